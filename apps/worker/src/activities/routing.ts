import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import {
  type AnswerOutcome,
  type ApplyDestinationPort,
  type ChatbotConnector,
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
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  /** URL requests of trees, under the partner-webhook target rules. */
  routingHttp: WebhookHttpClient;
  /** The dispatcher's `applyDestination` (packages/domain/src/routing/runtime.ts). */
  applyDestination: ApplyDestinationPort;
}

/** The decision-tree workflow's activities (workflows/src/routing.ts). */
export function createRoutingActivities(deps: RoutingActivityDeps) {
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
  };
}

// The API starts trees too (a bot's transfer), so the starter lives in the domain package.
export { temporalTreeStarter } from '@parley/domain';

/** What the routing signaller does with a contact's message: signal the tree, or forward it to the bot. */
export function routingMessageHandler(trees: TreeWorkflowStarter, chatbots: ChatbotConnector): RoutingMessageHandler {
  return {
    signalTree: async (session, messageIds) => {
      if (session.workflow_id) await trees.signal(session.workflow_id, messageIds);
    },
    forwardToChatbot: (session, messageIds) => chatbots.forward(session, messageIds),
  };
}
