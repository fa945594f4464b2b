export { createParleyClient, type ParleyClient, type ParleyClientOptions } from './client.js';
export { MemoryTokenStore, ParleyAuthError, TokenManager, type TokenManagerOptions, type TokenSet, type TokenStore } from './tokens.js';
export {
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
  WebhookVerifier,
  type HeadersLike,
  type RawBody,
  type WebhookEnvelope,
  type WebhookFailure,
  type WebhookVerifierOptions,
} from './webhook.js';
export { matchesPattern, type EventMap, type EventName, type EventPattern, type EventsMatching, type ParleyEvent } from './events.js';
export { createEventRouter, EventRouter, type EventFilter, type Handler, type UnhandledHook } from './router.js';
export {
  expressWebhook,
  fetchWebhookHandler,
  koaWebhook,
  nodeWebhookHandler,
  challengeAnswer,
  receiveWebhook,
  type IncomingLike,
  type KoaContextLike,
  type OutgoingLike,
  type WebhookAnswer,
  type WebhookReceiverOptions,
} from './adapters.js';
export type { paths, components, operations, webhooks } from './generated/openapi.js';
