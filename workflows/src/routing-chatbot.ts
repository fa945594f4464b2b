import { allHandlersFinished, condition, continueAsNew, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { Activities } from '@parley/worker/activities';
import type { ChatbotDelivery, ChatbotWorkflowInput } from '@parley/domain';

const { routingChatbotForward, routingChatbotActive } = proxyActivities<Activities>({
  // One request to the bot, whose timeout is at most 30 s, and the database work around it. A
  // bot's failure is not an activity failure (the fallback takes the chat); these retries are for
  // the database or a worker that died mid-request, after which the bot may hear a message twice
  // (the same `webhook-id`).
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds', maximumAttempts: 20 },
});

export const routingChatbotMessageSignal = defineSignal<[ChatbotDelivery]>('routingChatbotMessage');
/** The session ended (the routing signaller, from the session row's trigger). */
export const routingChatbotEndSignal = defineSignal('routingChatbotEnd');

/** Requests in one run before it continues as new, so a long chat keeps its history small. */
const MAX_REQUESTS = 200;

const IDLE_CHECK_MS = 24 * 60 * 60 * 1000;

export interface ChatbotWorkflowState extends ChatbotWorkflowInput {
  /** Messages a previous run heard and had not sent yet (continue-as-new). */
  carried?: string[];
  /** Whether a previous run already made a request (a late welcome is then dropped). */
  started?: boolean;
  /** Started by the routing with the welcome as its first delivery (a chat opened without a message). */
  welcome?: boolean;
}

/**
 * One conversation's session with a chatbot connector. The routing runner (the routed message, or
 * the welcome) and the routing signaller (each later message) hand messages to it; it POSTs them
 * to the bot one at a time, in the order the contact sent them, each in its own activity. A bot
 * that is slow or hangs up to its timeout so holds only this conversation: other conversations'
 * workflows, and the runner and signaller, go on. It ends when the session does (a transfer, a
 * fallback, new routing, a person taking over).
 */
export async function routingChatbotWorkflow(input: ChatbotWorkflowState): Promise<string> {
  const session: ChatbotWorkflowInput = {
    organizationId: input.organizationId,
    conversationId: input.conversationId,
    channelId: input.channelId,
    chatbotId: input.chatbotId,
    versionId: input.versionId,
    sessionId: input.sessionId,
  };
  const inbox: string[] = [...(input.carried ?? [])];
  const heard = new Set(inbox);
  let started = input.started ?? false;
  let welcome = !started && (input.welcome ?? false);
  setHandler(routingChatbotMessageSignal, ({ messageIds, welcome: isWelcome }) => {
    // A welcome that comes after the bot already heard from the contact has nothing to open.
    if (isWelcome && !started) welcome = true;
    for (const id of messageIds) {
      if (heard.has(id)) continue;
      heard.add(id);
      inbox.push(id);
    }
    // Message ids are time-ordered (UUIDv7): a message handed over late still goes in its place.
    inbox.sort();
  });
  let ended = false;
  setHandler(routingChatbotEndSignal, () => {
    ended = true;
  });
  for (let n = 0; n < MAX_REQUESTS; n++) {
    if (!(await condition(() => ended || welcome || inbox.length > 0, IDLE_CHECK_MS))) {
      // Nothing for a day: end if the session has. A backstop: an ending session signals its
      // workflow (routingChatbotEnd), but sessions that ended before that signal existed did not.
      if (!(await routingChatbotActive(session))) return 'ended';
      continue;
    }
    // Whatever is left belongs to the conversation's next owner.
    if (ended) return 'ended';
    const delivery: ChatbotDelivery = welcome ? { messageIds: [], welcome: true } : { messageIds: [inbox.shift()!] };
    welcome = false;
    started = true;
    let outcome = await routingChatbotForward({ ...session, ...delivery });
    // The tenant has its share of bot requests under way (CHATBOT_REQUESTS_PER_ORGANIZATION): wait
    // without holding an activity slot, and ask again; the message keeps its place.
    for (let wait = 250; outcome === 'busy'; wait = Math.min(wait * 2, 5000)) {
      await sleep(wait);
      if (ended) return 'ended';
      outcome = await routingChatbotForward({ ...session, ...delivery });
    }
    if (outcome === 'ended') return 'ended';
  }
  await condition(allHandlersFinished);
  if (ended) return 'ended';
  return continueAsNew<typeof routingChatbotWorkflow>({ ...session, carried: inbox, started });
}
