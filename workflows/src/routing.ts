import { condition, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '@parley/worker/activities';
import type { Destination, RoutingPathStep, Target, TreeWorkflowInput } from '@parley/domain';

const { routingTreeStart, routingTreeDecision, routingTreeAsk, routingTreeAnswer, routingTreeFinish } = proxyActivities<Activities>({
  // A URL request may take 10 s; the rest are database writes and a queued message.
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds', maximumAttempts: 20 },
});

export const routingTreeMessageSignal = defineSignal<[{ messageIds: string[] }]>('routingTreeMessage');
/** The session ended (the routing signaller, from the session row's trigger). */
export const routingTreeEndSignal = defineSignal('routingTreeEnd');

/** Decisions visited in one session: immediate loops are refused on save, so this only stops a contact answering round a menu for ever. */
const MAX_STEPS = 500;

const IDLE_CHECK_MS = 24 * 60 * 60 * 1000;

const isDecision = (target: Target): target is string => typeof target === 'string';

/**
 * One conversation's session in a decision tree. It holds where the contact is: each decision's
 * actions run (activities, each effect once), a question is sent and the workflow waits for the
 * contact's messages (signalled by the routing signaller) or the question's timeout, and a final
 * destination ends the session and is applied by the dispatcher. A worker that dies resumes from
 * the history where the contact was.
 */
export async function routingTreeWorkflow(input: TreeWorkflowInput): Promise<string> {
  const inbox: string[] = [];
  const heard = new Set<string>();
  setHandler(routingTreeMessageSignal, ({ messageIds }) => {
    for (const id of messageIds) {
      if (heard.has(id)) continue;
      heard.add(id);
      inbox.push(id);
    }
  });
  let ended = false;
  setHandler(routingTreeEndSignal, () => {
    ended = true;
  });
  const workflowId = workflowInfo().workflowId;
  const path: RoutingPathStep[] = [];
  const start = await routingTreeStart(input);
  if (start === null) return 'ended';
  let decisionId = start;
  for (let step = 0; step < MAX_STEPS; step++) {
    const at = { ...input, workflowId, decisionId, step };
    const outcome = await routingTreeDecision(at);
    if (outcome.kind === 'ended') return 'ended';
    let target: Target;
    if (outcome.kind === 'immediate') {
      path.push({ kind: 'decision', treeId: input.treeId, decisionId });
      target = outcome.target;
    } else {
      // Only messages that came after the question count as its answer.
      inbox.length = 0;
      await routingTreeAsk(at);
      let answered: Target | undefined;
      for (;;) {
        if (!outcome.timeout) {
          // No timeout: wait until the contact answers or the session ends (routingTreeEnd), and
          // look once a day whether it still stands, a backstop for sessions that ended before
          // their end was signalled.
          if (!(await condition(() => ended || inbox.length > 0, IDLE_CHECK_MS))) {
            if ((await routingTreeStart(input)) === null) return 'ended';
            continue;
          }
        } else if (!(await condition(() => ended || inbox.length > 0, outcome.timeout.seconds * 1000))) {
          path.push({ kind: 'timeout', treeId: input.treeId, decisionId });
          answered = outcome.timeout.target;
          break;
        }
        // A person took over, or the chat was routed again: the tree has nothing left to do.
        if (ended) return 'ended';
        const messageId = inbox.shift()!;
        const result = await routingTreeAnswer({ ...at, messageId });
        if (result.kind === 'ended') return 'ended';
        if (result.kind === 'answered') {
          path.push({ kind: 'decision', treeId: input.treeId, decisionId, answer: { choiceId: result.choiceId, reason: result.reason } });
          answered = result.target;
          break;
        }
      }
      target = answered;
    }
    if (isDecision(target)) {
      decisionId = target;
      continue;
    }
    await routingTreeFinish({ ...input, destination: target as Destination, path });
    return `destination:${target.kind}`;
  }
  await routingTreeFinish({ ...input, destination: { kind: 'terminate' }, path });
  return 'too_many_steps';
}
