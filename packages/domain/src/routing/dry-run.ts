import { type Clock, isId, NotFoundError } from '@parley/core';
import { z } from 'zod';
import type { TenantScope } from '../scope';
import { type SqlRunner, sqlRunner } from '../sql';
import type { RoutingDocument } from './config';
import { matchAnswer } from './matching';
import { averageWaitMinutes } from './queues';
import { ATTACHMENT_TYPES, type AttachmentPolicy } from './runtime-attachments';
import { liveDocument } from './runtime-live';
import { channelPlan, type FinalDestination, planDestination, type RoutingStep } from './runtime';
import { organizationTimeZone } from './service';
import { isDecisionTarget, type Target } from './tree';
import { parseStoredDocument, readDraft } from './versions';

/*
 * "What would happen to this message, from this contact, at this instant": the runtime's own plan
 * (channelPlan, planDestination: the same functions the dispatcher decides with), evaluated against
 * the draft or the live version at a simulated instant, with nothing sent or stored. Where the
 * runtime would hand the chat to a decision tree, the dry run walks the tree itself: immediate
 * targets are followed, and the message's text, when given, answers the first question the tree
 * asks (as the contact's reply to it); the walk stops at the next question.
 */

export const dryRunInput = z
  .object({
    channelId: z.string().min(1).max(64),
    from: z.string().trim().regex(/^\+?[1-9]\d{5,17}$/, 'A phone number, E.164 (`+14155550100`) or as WhatsApp writes it (`14155550100`).'),
    text: z.string().max(4096).optional().describe('The message’s text; answers the first question of a decision tree on the way.'),
    type: z.string().regex(/^[a-z_]{1,32}$/).default('text').describe('The message’s type (`text`, `image`, `document`...), for the attachment policy.'),
    at: z.iso.datetime({ offset: true }).optional().describe('The simulated instant; default now.'),
    against: z.enum(['draft', 'live']).default('live'),
  })
  .strict();
export type DryRunInput = z.output<typeof dryRunInput>;

export type DryRunStep = RoutingStep | { kind: 'question'; treeId: string; decisionId: string; actions: string[] } | { kind: 'actions'; treeId: string; decisionId: string; actions: string[] };

export interface DryRunResult {
  against: 'draft' | 'live';
  /** The live version evaluated (null for the draft, or before the first apply). */
  version: number | null;
  /** A scheduled apply that would be live at `at` and was evaluated instead of the current version. */
  scheduleId: string | null;
  at: string;
  timeZone: string;
  /** False when the message would not be routed: the channel has no routing, or the contact's conversation is in progress. */
  routed: boolean;
  reason: 'new_conversation' | 'reopened' | 'in_progress' | 'no_routing';
  attachment: { policy: AttachmentPolicy; accepted: boolean } | null;
  path: DryRunStep[];
  destination: FinalDestination | null;
  /** A question the chat would then wait on. */
  waiting: { treeId: string; decisionId: string } | null;
  /** For a queue: where the conversation would stand if it joined now. */
  queue: { queueId: string; name: string; position: number; averageWaitMinutes: number } | null;
}

const MAX_STEPS = 100;

interface Walk {
  path: DryRunStep[];
  destination: FinalDestination | null;
  waiting: { treeId: string; decisionId: string } | null;
}

/** Walks a tree from its start as the runtime would, the text answering the first question reached. */
function walkTree(document: RoutingDocument, treeId: string, text: string | undefined, at: Date, zone: string, path: DryRunStep[]): Walk {
  let answer = text;
  let tree = document.decisionTrees.find((t) => t.id === treeId);
  let target: Target | undefined = tree?.tree.start;
  while (tree && target !== undefined && path.length < MAX_STEPS) {
    if (!isDecisionTarget(target)) {
      const plan = planDestination(document, target, at, zone);
      path.push(...plan.steps);
      if (plan.destination.kind !== 'decision_tree') return { path, destination: plan.destination, waiting: null };
      tree = document.decisionTrees.find((t) => t.id === plan.destination.id);
      target = tree?.tree.start;
      continue;
    }
    const decision = tree.tree.decisions.find((d) => d.id === target);
    if (!decision) break;
    const actions = decision.actions.map((a) => a.type);
    if (decision.next.type === 'immediate') {
      path.push({ kind: 'decision', treeId: tree.id, decisionId: decision.id });
      if (actions.length) path.push({ kind: 'actions', treeId: tree.id, decisionId: decision.id, actions });
      target = decision.next.target;
      continue;
    }
    if (answer === undefined) {
      path.push({ kind: 'question', treeId: tree.id, decisionId: decision.id, actions });
      return { path, destination: { kind: 'decision_tree', id: tree.id } as FinalDestination, waiting: { treeId: tree.id, decisionId: decision.id } };
    }
    const match = matchAnswer(decision, answer);
    answer = undefined;
    path.push({
      kind: 'decision',
      treeId: tree.id,
      decisionId: decision.id,
      answer: { choiceId: match.kind === 'choice' ? match.choice.id : null, reason: match.reason },
    });
    target = match.target;
  }
  return { path, destination: tree ? ({ kind: 'decision_tree', id: tree.id } as FinalDestination) : null, waiting: null };
}

/** The routing document at `at`: the draft, or the live version (a scheduled apply due by `at` included). */
async function documentFor(sql: SqlRunner, organizationId: string, against: 'draft' | 'live', at: Date, now: Date) {
  if (against === 'draft') return { document: (await readDraft(sql, organizationId)).document, version: null, scheduleId: null };
  if (at.getTime() > now.getTime()) {
    const [due] = await sql.all<{ id: string; document: unknown }>(
      `select id, document from routing_schedules where organization_id = ? and status = 'pending' and at <= ? order by at desc, id desc limit 1`,
      [organizationId, at],
    );
    if (due) return { document: parseStoredDocument(due.document), version: null, scheduleId: due.id };
  }
  const live = await liveDocument(sql, organizationId, now);
  return { document: live?.document ?? null, version: live?.versionNumber ?? null, scheduleId: null };
}

export async function dryRun(sql: SqlRunner, organizationId: string, input: DryRunInput, now: Date): Promise<DryRunResult> {
  const at = input.at ? new Date(input.at) : now;
  const zone = await organizationTimeZone(sql, organizationId);
  const { document, version, scheduleId } = await documentFor(sql, organizationId, input.against, at, now);
  const plan = document && channelPlan(document, input.channelId, version);
  const phone = input.from.startsWith('+') ? input.from : `+${input.from}`;
  const [conversation] = await sql.all<{ status: string }>(
    `select cv.status from conversations cv join contacts ct on ct.id = cv.contact_id
     where cv.organization_id = ? and ct.organization_id = ? and ct.phone = ? and cv.status <> 'closed' limit 1`,
    [organizationId, organizationId, phone],
  );
  const base = { against: input.against, version, scheduleId, at: at.toISOString(), timeZone: zone, waiting: null, queue: null };
  if (!document || !plan) return { ...base, routed: false, reason: 'no_routing', attachment: null, path: [], destination: null };
  const attachment = ATTACHMENT_TYPES.includes(input.type) ? { policy: plan.routing.attachments, accepted: plan.routing.attachments !== 'none' } : null;
  const first = planDestination(document, plan.routing.first, at, zone);
  let walk: Walk = { path: [plan.step, ...first.steps], destination: first.destination, waiting: null };
  if (first.destination.kind === 'decision_tree') walk = walkTree(document, first.destination.id!, input.text, at, zone, walk.path);
  let queue: DryRunResult['queue'] = null;
  const d = walk.destination;
  if (d?.kind === 'queue') {
    const q = document.queues.find((x) => x.id === d.id);
    const [waiting] = await sql.all<{ n: string }>('select count(*) as n from queue_waiting where organization_id = ? and queue_id = ?', [organizationId, d.id]);
    queue = { queueId: d.id!, name: q?.name ?? '', position: Number(waiting?.n ?? 0) + 1, averageWaitMinutes: await averageWaitMinutes(sql, organizationId, d.id!, at) };
  }
  const reason = !conversation ? 'new_conversation' : conversation.status === 'resolved' ? 'reopened' : 'in_progress';
  return { ...base, routed: reason !== 'in_progress', reason, attachment, path: walk.path, destination: walk.destination, waiting: walk.waiting, queue };
}

/** The API's face of the dry run. */
export class RoutingDryRunService {
  constructor(private readonly clock: Clock) {}

  async run(scope: TenantScope, input: DryRunInput): Promise<DryRunResult> {
    const sql = sqlRunner(scope.em);
    const [channel] = isId(input.channelId) ? await sql.all('select id from channels where id = ? and organization_id = ?', [input.channelId, scope.organizationId]) : [];
    if (!channel) throw new NotFoundError('channel');
    return dryRun(sql, scope.organizationId, input, this.clock.now());
  }
}
