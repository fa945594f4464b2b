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
      try {
        await client.workflow.getHandle(workflowId).signal('routingTreeMessage', { messageIds });
      } catch (err) {
        // The session's workflow is over (it failed, or ended as its session did): nobody waits
        // for the message, and keeping the row would only retry it for ever.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    },
  };
}

/**
 * Hands contact messages to bot sessions' workflows on the worker's task queue, starting a
 * session's workflow with its first delivery: whoever comes first (the runner with the routed
 * message, the signaller with a later one) starts it, and the workflow puts them in order.
 */
export function temporalChatbotStarter(client: Client, taskQueue: string): ChatbotWorkflowStarter {
  return {
    async deliver(workflowId, input, delivery) {
      await client.workflow.signalWithStart('routingChatbotWorkflow', {
        taskQueue,
        workflowId,
        args: [input],
        signal: 'routingChatbotMessage',
        signalArgs: [delivery],
      });
    },
  };
}
