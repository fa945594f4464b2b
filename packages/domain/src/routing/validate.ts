import type { FieldProblem } from '@parley/core';
import { DESTINATION_COLLECTION, type RoutingDocument } from './config';
import { findCycle, findIncludeCycle, findTimeConditionCycle } from './time';
import { type Destination, validateTree } from './tree';

/** What a document may refer to outside itself: the organization's users and channels. */
export interface RoutingContext {
  userIds: ReadonlySet<string>;
  channelIds: ReadonlySet<string>;
  /** ALLOW_INSECURE_WEBHOOKS: http URLs in trees' requests, as for partner webhooks. */
  allowInsecureUrls?: boolean | undefined;
}

/**
 * Every problem of a whole document, each with its path in the document (`queues.0.agentIds.1`):
 * references to objects, users or channels that do not exist, ids used twice, include cycles
 * among time groups, time conditions that lead back to themselves, and what the tree validator
 * finds in each tree. Shape (the zod schema) is checked before this.
 */
export function validateRoutingDocument(doc: RoutingDocument, context: RoutingContext): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const ids = new Map<string, string>();
  for (const key of ['queues', 'timeGroups', 'timeConditions', 'decisionTrees', 'chatbots', 'terminates'] as const) {
    (doc[key] as { id: string }[]).forEach((o, i) => {
      const seen = ids.get(o.id);
      if (seen) problems.push({ path: `${key}.${i}.id`, message: `The id ${o.id} is already used by ${seen}.` });
      else ids.set(o.id, `${key}.${i}`);
    });
  }

  const destination = (d: Destination, path: string) => {
    if (d.kind === 'assistant' || d.id === undefined) return;
    const list = doc[DESTINATION_COLLECTION[d.kind]] as { id: string }[];
    if (!list.some((o) => o.id === d.id)) problems.push({ path: `${path}.id`, message: `No ${d.kind.replace('_', ' ')} with id ${d.id}.` });
  };
  const queue = (id: string, path: string) => {
    if (!doc.queues.some((q) => q.id === id)) problems.push({ path, message: `No queue with id ${id}.` });
  };

  doc.queues.forEach((q, i) =>
    q.agentIds.forEach((userId, j) => {
      if (!context.userIds.has(userId)) problems.push({ path: `queues.${i}.agentIds.${j}`, message: `No active user with id ${userId} in this organization.` });
    }),
  );
  doc.timeGroups.forEach((g, i) =>
    g.includes.forEach((id, j) => {
      if (id === g.id) problems.push({ path: `timeGroups.${i}.includes.${j}`, message: 'A time group cannot include itself.' });
      else if (!doc.timeGroups.some((o) => o.id === id)) problems.push({ path: `timeGroups.${i}.includes.${j}`, message: `No time group with id ${id}.` });
    }),
  );
  const includeCycle = findIncludeCycle(doc.timeGroups);
  if (includeCycle && includeCycle.length > 2) {
    const at = doc.timeGroups.findIndex((g) => g.id === includeCycle[0]);
    problems.push({ path: `timeGroups.${at}.includes`, message: `Time groups include each other in a cycle: ${includeCycle.join(' -> ')}.` });
  }
  doc.timeConditions.forEach((tc, i) => {
    if (!doc.timeGroups.some((g) => g.id === tc.timeGroupId)) problems.push({ path: `timeConditions.${i}.timeGroupId`, message: `No time group with id ${tc.timeGroupId}.` });
    destination(tc.whenOpen, `timeConditions.${i}.whenOpen`);
    destination(tc.whenClosed, `timeConditions.${i}.whenClosed`);
  });
  const tcCycle = findTimeConditionCycle(doc);
  if (tcCycle) {
    const at = doc.timeConditions.findIndex((t) => t.id === tcCycle[0]);
    problems.push({ path: `timeConditions.${at}`, message: `Time conditions lead back to themselves: ${tcCycle.join(' -> ')}.` });
  }
  doc.decisionTrees.forEach((t, i) => {
    problems.push(
      ...validateTree(t.tree, {
        destinations: {
          queue: doc.queues.map((o) => o.id),
          time_condition: doc.timeConditions.map((o) => o.id),
          decision_tree: doc.decisionTrees.map((o) => o.id),
          chatbot: doc.chatbots.map((o) => o.id),
          terminate: doc.terminates.map((o) => o.id),
        },
        treeId: t.id,
        allowInsecureUrls: context.allowInsecureUrls,
        path: `decisionTrees.${i}.tree.`,
      }),
    );
  });
  doc.chatbots.forEach((c, i) => destination(c.fallback, `chatbots.${i}.fallback`));
  doc.terminates.forEach((t, i) => {
    if (t.missedChatQueueId !== null) queue(t.missedChatQueueId, `terminates.${i}.missedChatQueueId`);
  });
  const channels = new Set<string>();
  doc.channels.forEach((c, i) => {
    if (!context.channelIds.has(c.channelId)) problems.push({ path: `channels.${i}.channelId`, message: `No channel with id ${c.channelId} in this organization.` });
    if (channels.has(c.channelId)) problems.push({ path: `channels.${i}.channelId`, message: 'The channel already has a routing.' });
    channels.add(c.channelId);
    destination(c.first, `channels.${i}.first`);
  });
  // A chatbot whose fallback leads back to it through time conditions would loop when the bot is down.
  const fallbackCycle = doc.chatbots
    .map((c) =>
      findCycle(`chatbot:${c.id}`, (node) => {
        const [kind, id] = node.split(':') as [string, string];
        const next: Destination[] =
          kind === 'chatbot'
            ? [doc.chatbots.find((b) => b.id === id)?.fallback].filter((d): d is Destination => !!d)
            : kind === 'time_condition'
              ? (() => {
                  const tc = doc.timeConditions.find((t) => t.id === id);
                  return tc ? [tc.whenOpen, tc.whenClosed] : [];
                })()
              : [];
        return next.filter((d) => d.kind === 'chatbot' || d.kind === 'time_condition').map((d) => `${d.kind}:${d.id}`);
      }),
    )
    .find((c) => c !== null);
  if (fallbackCycle) {
    const first = fallbackCycle[0]!.split(':')[1];
    const at = doc.chatbots.findIndex((c) => c.id === first);
    problems.push({ path: `chatbots.${at}.fallback`, message: `The fallback leads back to the chatbot: ${fallbackCycle.join(' -> ')}.` });
  }
  return problems;
}
