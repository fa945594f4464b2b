import OpenAI from 'openai';
import { z } from 'zod';

/** What the model decides for a turn. It answers in this structure only; prose is never parsed. */
export const assistantDecision = z.object({
  action: z.enum(['reply', 'handoff', 'resolve']),
  reply: z.string().max(4096).nullable().optional(),
  /** Quick-reply buttons offered with the reply (WhatsApp allows three, titles up to 20 characters). */
  buttons: z.array(z.string()).max(10).nullable().optional(),
  reason: z.string().max(1000),
});
export type AssistantDecision = z.infer<typeof assistantDecision>;

/** The same shape as JSON Schema, for `response_format` (strict mode wants every key required). */
const DECISION_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['action', 'reply', 'buttons', 'reason'],
  properties: {
    action: { type: 'string', enum: ['reply', 'handoff', 'resolve'], description: 'reply: answer the contact; handoff: a person must take over; resolve: the matter is settled.' },
    reply: { type: ['string', 'null'], description: 'The WhatsApp message to send (reply, and optionally a closing line on resolve); null otherwise.' },
    buttons: {
      type: ['array', 'null'],
      items: { type: 'string', maxLength: 20 },
      maxItems: 3,
      description: 'Up to 3 quick-reply button titles (at most 20 characters each) when the customer picks among a few options; null otherwise.',
    },
    reason: { type: 'string', description: 'Why, in one sentence, for the agents.' },
  },
} as const;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Generation {
  decision: AssistantDecision;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Why a generation failed. `transient` failures (429, 5xx, a timeout, the connection) may pass on
 * a later try; the others (a refusal, an answer outside the schema, a rejected request) will not.
 */
export class AssistantModelError extends Error {
  constructor(
    readonly kind: 'transient' | 'refused' | 'malformed' | 'rejected',
    message: string,
    readonly usage: { promptTokens: number; completionTokens: number } = { promptTokens: 0, completionTokens: 0 },
  ) {
    super(message);
    this.name = 'AssistantModelError';
  }
}

export interface AssistantModelOptions {
  baseUrl: string;
  apiKey: string;
  /** Per HTTP request. */
  timeoutMs?: number;
  /** Retries of one call on 429, 5xx, timeouts and connection errors, with the SDK's backoff (it honours Retry-After). */
  maxRetries?: number;
}

/** The chat-completions API of `OPENAI_BASE_URL`, through the `openai` package. */
export class AssistantModel {
  private readonly client: OpenAI;

  constructor(options: AssistantModelOptions) {
    this.client = new OpenAI({
      baseURL: options.baseUrl,
      apiKey: options.apiKey,
      timeout: options.timeoutMs ?? 20_000,
      maxRetries: options.maxRetries ?? 2,
    });
  }

  async generate(model: string, messages: ChatMessage[], signal?: AbortSignal): Promise<Generation> {
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(
        {
          model,
          messages,
          response_format: { type: 'json_schema', json_schema: { name: 'assistant_turn', strict: true, schema: DECISION_JSON_SCHEMA } },
        },
        signal ? { signal } : undefined,
      );
    } catch (err) {
      throw classify(err);
    }
    const usage = { promptTokens: completion.usage?.prompt_tokens ?? 0, completionTokens: completion.usage?.completion_tokens ?? 0 };
    const choice = completion.choices[0];
    if (!choice) throw new AssistantModelError('malformed', 'The model answered no choice.', usage);
    if (choice.message.refusal) throw new AssistantModelError('refused', `The model refused: ${choice.message.refusal.slice(0, 300)}`, usage);
    if (choice.finish_reason === 'content_filter') throw new AssistantModelError('refused', 'The model’s answer was filtered.', usage);
    if (choice.finish_reason === 'length') throw new AssistantModelError('malformed', 'The model’s answer was cut off.', usage);
    let parsed: unknown;
    try {
      parsed = JSON.parse(choice.message.content ?? '');
    } catch {
      throw new AssistantModelError('malformed', 'The model’s answer is not JSON.', usage);
    }
    const decision = assistantDecision.safeParse(parsed);
    if (!decision.success) throw new AssistantModelError('malformed', 'The model’s answer does not fit the decision schema.', usage);
    if (decision.data.action === 'reply' && !decision.data.reply?.trim()) {
      throw new AssistantModelError('malformed', 'The model chose to reply but gave no reply.', usage);
    }
    return { decision: decision.data, ...usage };
  }
}

function classify(err: unknown): AssistantModelError {
  if (err instanceof AssistantModelError) return err;
  if (err instanceof OpenAI.APIConnectionTimeoutError) return new AssistantModelError('transient', 'The model did not answer in time.');
  if (err instanceof OpenAI.APIConnectionError) return new AssistantModelError('transient', 'The model could not be reached.');
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    if (status === 429 || status === 408 || status >= 500) return new AssistantModelError('transient', `The model answered ${status}.`);
    return new AssistantModelError('rejected', `The model rejected the request (${status}).`);
  }
  return new AssistantModelError('transient', err instanceof Error ? err.message : String(err));
}
