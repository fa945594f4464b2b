import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import {
  type AnswerOutcome,
  type ApplyDestinationPort,
  type ChatbotConnector,
  type ChatbotDelivery,
  chatbotWorkflow,
  type ChatbotWorkflowInput,
  type ChatbotWorkflowStarter,
  type DecisionOutcome,
  type Destination,
  type RoutingMessageHandler,
  type RoutingPathStep,
  type StepInput,
  type TreeRuntimeDeps,
  TreeRuntime,
  type TreeWorkflowInput,
  type TreeWorkflowStarter,
  type WebhookHttpClient,
} from '@parley/domain';

export interface RoutingActivityDeps {
  /** Bots' requests (routingChatbotWorkflow's activities). */
  chatbots: ChatbotConnector;
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  /** URL requests of trees, under the partner-webhook target rules. */
  routingHttp: WebhookHttpClient;
  /** The dispatcher's `applyDestination` (packages/domain/src/routing/runtime.ts). */
  applyDestination: ApplyDestinationPort;
}

/**
 * Bot requests one organization may have under way at once in this worker. Requests are activities
 * and share the worker's activity slots (100) with trees, broadcasts and the assistant: without a
 * cap, one tenant whose bot hangs, with many chats open, could hold every slot for its timeout.
 */
export const CHATBOT_REQUESTS_PER_ORGANIZATION = 16;

/** The decision-tree and chatbot workflows' activities (workflows/src/routing.ts, routing-chatbot.ts). */
export function createRoutingActivities(deps: RoutingActivityDeps, options: { chatbotRequestsPerOrganization?: number } = {}) {
  const cap = options.chatbotRequestsPerOrganization ?? CHATBOT_REQUESTS_PER_ORGANIZATION;
  const underWay = new Map<string, number>();
  const runtime = new TreeRuntime({
    orm: deps.orm,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'routing-tree' }),
    http: deps.routingHttp,
    applyDestination: deps.applyDestination,
  } satisfies TreeRuntimeDeps);
  return {
    routingTreeStart: (input: TreeWorkflowInput): Promise<string | null> => runtime.startDecision(input),
    routingTreeDecision: (input: StepInput): Promise<DecisionOutcome> => runtime.runDecision(input),
    routingTreeAsk: (input: StepInput): Promise<void> => runtime.ask(input),
    routingTreeAnswer: (input: StepInput & { messageId: string }): Promise<AnswerOutcome> => runtime.answer(input),
    routingTreeFinish: (input: TreeWorkflowInput & { destination: Destination; path: RoutingPathStep[] }): Promise<void> => runtime.finish(input),
    /** `busy`: the organization has its share of requests under way; the workflow waits and asks again, its slot free meanwhile. */
    routingChatbotForward: async (input: ChatbotWorkflowInput & ChatbotDelivery): Promise<'active' | 'ended' | 'busy'> => {
      const now = underWay.get(input.organizationId) ?? 0;
      if (now >= cap) return 'busy';
      underWay.set(input.organizationId, now + 1);
      try {
        return await deps.chatbots.forwardInSession(input, { messageIds: input.messageIds, welcome: input.welcome });
      } finally {
        const left = (underWay.get(input.organizationId) ?? 1) - 1;
        if (left > 0) underWay.set(input.organizationId, left);
        else underWay.delete(input.organizationId);
      }
    },
    routingChatbotActive: async (input: ChatbotWorkflowInput): Promise<boolean> => (await deps.chatbots.sessionState(input)) === 'active',
  };
}

// The API starts trees too (a bot's transfer), so the starter lives in the domain package.
export { temporalChatbotStarter, temporalTreeStarter } from '@parley/domain';

/**
 * What the routing signaller does with a contact's message: signal the tree's workflow, or the bot
 * session's (which POSTs it to the bot), so the signaller never waits for a bot.
 */
export function routingMessageHandler(trees: TreeWorkflowStarter, chatbots: ChatbotWorkflowStarter): RoutingMessageHandler {
  return {
    signalTree: async (session, messageIds) => {
      if (session.workflow_id) await trees.signal(session.workflow_id, messageIds);
    },
    forwardToChatbot: async (session, messageIds) => {
      const { workflowId, input } = chatbotWorkflow(session);
      await chatbots.deliver(workflowId, input, { messageIds });
    },
    sessionEnded: async (session) => {
      if (session.kind === 'tree') {
        if (session.workflow_id) await trees.end(session.workflow_id);
      } else await chatbots.end(chatbotWorkflow(session).workflowId);
    },
  };
}
