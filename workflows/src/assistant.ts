import { ActivityFailure, ApplicationFailure, condition, continueAsNew, defineSignal, proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '@parley/worker/activities';

/** Failure types of a generation that no retry can help: the turn fails and a person is asked. */
export const ASSISTANT_FINAL_FAILURES = ['refused', 'malformed', 'rejected'];

// Reading the context and writing the outcome are short database work: local activities run in
// this worker without a round trip through the Temporal server each, which a reply would wait for.
const { assistantPrepare, assistantDeliver, assistantFail } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 10 },
});
// The model call retries 429, 5xx and timeouts itself (the openai package's backoff); Temporal
// tries once more after that, then the turn is handed to a person rather than left hanging.
const { assistantGenerate } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 2, nonRetryableErrorTypes: ASSISTANT_FINAL_FAILURES },
});

export interface AssistantWorkflowInput {
  organizationId: string;
  conversationId: string;
  quietTimeMs: number;
  /** Messages a previous run heard and did not answer (continue-as-new). */
  carried?: string[];
}

/** `lastMessageAt`: when the newest of the messages was stored (ms), where the quiet time starts. */
export const contactMessageSignal = defineSignal<[{ messageIds: string[]; lastMessageAt?: number }]>('assistantContactMessage');

/** Rounds in one run before it continues as new, so a contact who keeps writing while replies are made keeps its history small. */
const MAX_ROUNDS = 5;

/**
 * One turn of a conversation's assistant. Each contact message signals it (signalWithStart); it
 * waits until the contact has been quiet for `quietTimeMs`, so a burst gets one reply. A message
 * that arrives while the reply is generated makes it start over with everything said, and the
 * turn ends once a reply (or handoff, or suggestion) went out for the last message it heard.
 */
export async function assistantTurnWorkflow(input: AssistantWorkflowInput): Promise<string> {
  const heard: string[] = [...(input.carried ?? [])];
  let version = 0;
  let lastMessageAt = 0;
  setHandler(contactMessageSignal, ({ messageIds, lastMessageAt: at }) => {
    const fresh = messageIds.filter((id) => !heard.includes(id));
    if (!fresh.length) return;
    heard.push(...fresh);
    // A signal without the time (or one from a clock ahead of ours) starts the quiet time now.
    lastMessageAt = Math.max(lastMessageAt, Math.min(at ?? Date.now(), Date.now()));
    version++;
  });
  const base = { organizationId: input.organizationId, conversationId: input.conversationId };
  for (let round = 0; round < MAX_ROUNDS; round++) {
    await condition(() => heard.length > 0);
    // The quiet time restarts with every message, and runs from when the message was stored, so
    // the time it took to reach this workflow is not added to it.
    for (;;) {
      const seen = version;
      const left = lastMessageAt + input.quietTimeMs - Date.now();
      if (left <= 0 || !(await condition(() => version !== seen, left))) break;
    }
    const answered = version;
    const turn = { ...base, turnId: `${workflowInfo().workflowId}:${heard[heard.length - 1]}` };
    const prepared = await assistantPrepare(turn);
    let outcome: string;
    if (prepared.kind === 'skip') {
      outcome = `skipped:${prepared.reason}`;
    } else if (prepared.kind === 'handoff') {
      outcome = await assistantDeliver(turn, { action: 'handoff', reply: null, reason: prepared.reason });
    } else {
      let decision;
      try {
        decision = await assistantGenerate(turn, prepared);
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
        await assistantFail(turn, cause ? `${cause.type ?? 'error'}: ${cause.message}` : err.message);
        if (version === answered) return 'failed';
        continue;
      }
      // The contact wrote again while the reply was made: answer everything together.
      if (version !== answered) continue;
      outcome = await assistantDeliver(turn, decision);
    }
    if (version === answered) return outcome;
  }
  // Still unanswered after every round of this run: a fresh run takes over with the last message.
  return continueAsNew<typeof assistantTurnWorkflow>({ ...input, carried: heard.slice(-1) });
}
