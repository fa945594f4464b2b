import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '@parley/config';
import type { Clock, Logger } from '@parley/core';
import {
  AssistantModel,
  AssistantModelError,
  type AssistantModelOptions,
  type AssistantDecision,
  type AssistantSendPath,
  type AssistantTurnStarter,
  AssistantTurns,
  assistantWorkflowId,
  type Prepared,
  type TurnInput,
} from '@parley/domain';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

export interface AssistantActivityDeps {
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  config: Config;
  /** The platform's one send path. */
  send: AssistantSendPath;
  /** Model client settings beyond OPENAI_BASE_URL and OPENAI_API_KEY (tests shorten the timeout). */
  assistantModel?: Partial<Pick<AssistantModelOptions, 'timeoutMs' | 'maxRetries'>> | undefined;
}

export function createAssistantActivities(deps: AssistantActivityDeps) {
  const { baseUrl, apiKey } = deps.config.openai;
  const model = baseUrl && apiKey ? new AssistantModel({ baseUrl, apiKey, ...deps.assistantModel }) : null;
  const turns = new AssistantTurns(deps.orm, model, deps.send, deps.clock, deps.logger.child({ component: 'assistant' }));
  return {
    assistantPrepare: (input: TurnInput): Promise<Prepared> => turns.prepare(input),

    async assistantGenerate(input: TurnInput, prepared: Extract<Prepared, { kind: 'generate' }>): Promise<AssistantDecision> {
      try {
        return await turns.generate(input, prepared, Context.current().cancellationSignal);
      } catch (err) {
        // A refusal or an answer outside the schema will not change on a retry; a 429, 5xx or timeout may.
        if (err instanceof AssistantModelError) {
          if (err.kind === 'transient') throw ApplicationFailure.retryable(err.message, 'transient');
          throw ApplicationFailure.nonRetryable(err.message, err.kind);
        }
        throw err;
      }
    },

    assistantDeliver: (input: TurnInput, decision: AssistantDecision) => turns.deliver(input, decision),

    assistantFail: (input: TurnInput, reason: string) => turns.fail(input, reason),
  };
}

/** Signals a conversation's turn workflow, starting it if none runs (the workflow id carries the tenant). */
export function temporalAssistantStarter(client: Client, taskQueue: string): AssistantTurnStarter {
  return {
    async signal({ organizationId, conversationId, messageIds, lastMessageAt, quietTimeMs }) {
      await client.workflow.signalWithStart('assistantTurnWorkflow', {
        taskQueue,
        workflowId: assistantWorkflowId(organizationId, conversationId),
        args: [{ organizationId, conversationId, quietTimeMs }],
        signal: 'assistantContactMessage',
        signalArgs: [{ messageIds, lastMessageAt }],
      });
    },
  };
}
