import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import type { ChatbotWorkflowStarter } from './runtime-chatbot';
import type { TreeWorkflowStarter } from './runtime-tree';

/**
 * Starts and signals tree sessions' workflows on the worker's task queue. Both processes start
 * trees (the worker routes new chats, the API handles bots' callbacks), so both use this one.
 */
export function temporalTreeStarter(client: Client, taskQueue: string): TreeWorkflowStarter {
  return {
    async start(workflowId, input) {
      try {
        await client.workflow.start('routingTreeWorkflow', { taskQueue, workflowId, args: [input] });
      } catch (err) {
        // Started already (a retried start): that run is the session's.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    },
    async signal(workflowId, messageIds) {
      await signalUnlessOver(client, workflowId, 'routingTreeMessage', { messageIds });
    },
    async end(workflowId) {
      await signalUnlessOver(client, workflowId, 'routingTreeEnd');
    },
  };
}

/**
 * Signals a session's workflow unless it is over (it failed, or ended as its session did): nobody
 * waits for the signal then, and keeping the pending row would only retry it for ever.
 */
async function signalUnlessOver(client: Client, workflowId: string, signal: string, ...args: unknown[]): Promise<void> {
  try {
    await client.workflow.getHandle(workflowId).signal(signal, ...args);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

/**
 * Hands contact messages to bot sessions' workflows on the worker's task queue, starting a
 * session's workflow with its first delivery: whoever comes first (the runner with the routed
 * message, the signaller with a later one) starts it, and the workflow puts them in order.
 */
export function temporalChatbotStarter(client: Client, taskQueue: string, options: { eagerStart?: boolean } = {}): ChatbotWorkflowStarter {
  return {
    async deliver(workflowId, input, delivery, how) {
      if (how?.opening) {
        try {
          // signalWithStart cannot start eagerly; a plain start with the delivery as input can.
          await client.workflow.start('routingChatbotWorkflow', {
            taskQueue,
            workflowId,
            args: [{ ...input, carried: delivery.messageIds, welcome: delivery.welcome ?? false }],
            // Only a client on the worker's own NativeConnection can (the worker's, not the API's).
            requestEagerStart: options.eagerStart ?? false,
          });
          return;
        } catch (err) {
          // The signaller started it first with a later message: this one joins by signal.
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      }
      await client.workflow.signalWithStart('routingChatbotWorkflow', {
        taskQueue,
        workflowId,
        args: [input],
        signal: 'routingChatbotMessage',
        signalArgs: [delivery],
      });
    },
    async end(workflowId) {
      await signalUnlessOver(client, workflowId, 'routingChatbotEnd');
    },
  };
}
