import type { DeliveryResult, WebhookRecord, WebhookRetryOptions, WebhookStats } from './delivery';
import type { MessageTemplate, TemplateInput } from './templates';
import type { InboundMessageInput, PricingCategory, StatusErrorInput, StatusName } from './webhooks';

/** Delay before each status, counted from the previous one (from the send for `sent`); null turns it and the later ones off. */
export interface StatusDelays {
  sent: number | null;
  delivered: number | null;
  read: number | null;
}

export type StatusDelaysInput = { [K in keyof StatusDelays]?: number | null | false };

/** A Meta error code, or a full description of what to answer. */
export type FaultError = number | FaultSpec;

export interface FaultSpec {
  /** Meta error code; defaults from `httpStatus` (500 → 1, 503 → 2, 429 → 130429). */
  code?: number;
  /** Defaults from the code: 130429 → 429, 1 → 500, 2 → 503, auth → 401/403, else 400. */
  httpStatus?: number;
  subcode?: number;
  message?: string;
  title?: string;
  details?: string;
  /**
   * Sends only: accept the message (200 with a wamid) and report the error afterwards as a
   * `failed` status webhook, which is how Meta reports most delivery errors (131026, 131047, ...).
   */
  async?: boolean;
  /**
   * Close the connection without answering. `before`: nothing happened. `after`: the message was
   * accepted and its statuses follow, but the caller never learns the wamid (outcome unknown).
   */
  drop?: 'before' | 'after';
  /** Answer this text (as text/html) instead of Meta's JSON envelope, like a failing proxy in front of Graph. */
  rawBody?: string;
}

export type GraphOperation =
  | 'oauth'
  | 'phone_number'
  | 'waba'
  | 'phone_numbers'
  | 'subscribed_apps'
  | 'register'
  | 'deregister'
  | 'message_templates'
  | 'messages'
  | 'media'
  | 'media_upload'
  | 'media_download';

export interface Faults {
  /** Extra latency before answering each send (on top of the server-wide `latencyMs`). */
  latencyMs?: number;
  /** The next `count` sends fail; the count goes down as they do. */
  failNext?: { count: number; error: FaultError };
  /** This fraction (0..1) of sends fails; `seed` makes the choice reproducible. */
  failRate?: { fraction: number; error: FaultError; seed?: number };
  /** Sends to these numbers (any format) always fail. Checked first. */
  failRecipients?: Record<string, FaultError>;
  /** Every call of these operations fails (for `messages`: after the other send faults). */
  failOperations?: Partial<Record<GraphOperation, FaultError>>;
}

export interface SandboxGraphOptions {
  /** 0 (the default) takes a free port. */
  port?: number;
  host?: string;
  /** The version used in links the sandbox builds; requests may use any `vNN.N`. */
  version?: string;
  /** When set, `oauth/access_token` insists on it as `client_id`. */
  appId?: string;
  /** Signs webhooks and checks `client_secret`. */
  appSecret: string;
  /** Parley's `POST /webhooks/meta` URL. */
  webhookUrl?: string;
  /** Latency added to every Graph API call. */
  latencyMs?: number;
  /** Defaults: sent 5 ms, delivered 10 ms, read 20 ms. */
  statusDelaysMs?: StatusDelaysInput;
  /** Unknown phone number and WABA ids are errors instead of being created on first reference. */
  strict?: boolean;
  /** Any bearer token is accepted (for tests that store channels with made-up tokens). */
  acceptAnyToken?: boolean;
  /** Tokens accepted besides the ones `oauth/access_token` issues. */
  tokens?: string[];
  /** Give each new WABA the five sample templates (default true). */
  seedTemplates?: boolean;
  /** Check template sends against the WABA's templates as Meta does (132000, 132001, 132012). */
  validateTemplates?: boolean;
  /** An authorization code works once, as at Meta (default: reusable, so tests can share one). */
  singleUseCodes?: boolean;
  webhookRetry?: WebhookRetryOptions;
  webhookTimeoutMs?: number;
  /** Sockets kept open to the webhook URL (default 64). */
  webhookConcurrency?: number;
  /** Sends kept for `sends()` (default 100 000); older ones are forgotten. */
  logLimit?: number;
  /** Requests kept for `requests()` (default 10 000). */
  requestLogLimit?: number;
  /** Webhook deliveries kept for `webhooks()` (default 10 000). */
  webhookLogLimit?: number;
  faults?: Faults;
}

export interface PhoneNumberInput {
  id: string;
  wabaId?: string;
  /** Digits or formatted; defaults to a +1 555 number derived from the id. */
  displayPhoneNumber?: string;
  verifiedName?: string;
  qualityRating?: 'GREEN' | 'YELLOW' | 'RED' | 'UNKNOWN';
  throughputLevel?: 'STANDARD' | 'HIGH' | 'NOT_APPLICABLE';
  messagingLimitTier?: string;
  codeVerificationStatus?: string;
  registered?: boolean;
}

export interface PhoneNumber {
  id: string;
  wabaId?: string;
  /** Digits only, as webhook metadata carries it. */
  displayDigits: string;
  /** Formatted, as the phone-number node shows it. */
  displayPhoneNumber: string;
  verifiedName: string;
  qualityRating: string;
  throughputLevel: string;
  messagingLimitTier: string;
  codeVerificationStatus: string;
  registered: boolean;
  pin?: string;
}

export interface CodeGrant {
  wabaId?: string;
  phoneNumberId?: string;
  /** The token the exchange answers with; a new one when left out. */
  accessToken?: string;
}

export interface RequestLogEntry {
  seq: number;
  /** Epoch ms when the request arrived. */
  at: number;
  method: string;
  path: string;
  version?: string;
  operation?: GraphOperation;
  query: Record<string, string>;
  token?: string;
  /** Parsed JSON or form body; for uploads a summary of the parts. */
  body?: unknown;
  /** 0 when the connection was dropped by a fault. */
  status: number;
  response?: unknown;
  durationMs: number;
}

export interface SendRecord {
  wamid: string;
  phoneNumberId: string;
  wabaId: string;
  /** `to` as given. */
  to: string;
  /** `to` as digits. */
  waId: string;
  type: string;
  payload: Record<string, unknown>;
  bizOpaqueCallbackData?: string;
  template?: { name: string; language: string };
  category: PricingCategory;
  /** Epoch ms. */
  at: number;
  /** Set when a fault made the send fail after acceptance (`async`). */
  failure?: { code: number; title: string };
  /** Status webhooks posted for it so far, in order. */
  statuses: { status: StatusName; at: number; acknowledged: boolean }[];
}

export type SimulateInboundInput = InboundMessageInput & {
  phoneNumberId: string;
  /** Media content to serve for the media id (base64 when a string); a small placeholder otherwise. */
  bytes?: Uint8Array | string;
};

export interface SimulateStatusInput {
  wamid: string;
  status: StatusName;
  /** Defaults from the recorded send. */
  phoneNumberId?: string;
  recipientId?: string;
  bizOpaqueCallbackData?: string;
  category?: PricingCategory;
  timestamp?: number | string | Date;
  errors?: StatusErrorInput[];
}

export interface MediaInput {
  bytes: Uint8Array | string;
  mimeType: string;
  id?: string;
  filename?: string;
}

export interface MediaInfo {
  messaging_product: 'whatsapp';
  url: string;
  mime_type: string;
  sha256: string;
  file_size: number;
  id: string;
}

export interface SandboxStats {
  requests: number;
  sends: { accepted: number; rejected: number; dropped: number };
  webhooks: WebhookStats;
}

export interface SandboxGraph {
  /** Base URL, what META_GRAPH_URL should be (no version). */
  readonly url: string;
  /** `url` + `/` + version. */
  readonly graphUrl: string;
  readonly port: number;
  readonly version: string;
  setWebhookUrl(url: string | undefined): void;
  setFaults(faults: Faults): void;
  clearFaults(): void;
  getFaults(): Faults;
  setStatusDelays(delays: StatusDelaysInput): void;
  setLatency(ms: number): void;
  addPhoneNumber(input: PhoneNumberInput): PhoneNumber;
  getPhoneNumber(id: string): PhoneNumber | undefined;
  addTemplate(wabaId: string, template: TemplateInput): MessageTemplate;
  templates(wabaId: string): MessageTemplate[];
  registerCode(code: string, grant?: CodeGrant): void;
  addToken(token: string, grant?: { wabaId?: string }): void;
  revokeToken(token: string): void;
  addMedia(input: MediaInput): MediaInfo;
  requests(filter?: { operation?: GraphOperation; path?: string }): RequestLogEntry[];
  sends(filter?: { to?: string; phoneNumberId?: string }): SendRecord[];
  webhooks(): WebhookRecord[];
  webhookStats(): WebhookStats;
  stats(): SandboxStats;
  /** Posts a contact's message to the webhook; resolves with its wamid once Parley acknowledged it (rejects if it never does). */
  simulateInbound(input: SimulateInboundInput, options?: { wait?: boolean }): Promise<string>;
  /** Posts one status for a wamid (defaults from the recorded send): redeliveries, out-of-order, failures. */
  simulateStatus(input: SimulateStatusInput): Promise<DeliveryResult>;
  /** Posts any payload, signed, with the usual retries. */
  deliverWebhook(payload: unknown): Promise<DeliveryResult>;
  /** Resolves when no status sequence or webhook delivery is under way. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Forgets logs, counters and faults; keeps numbers, templates, tokens and media. */
  reset(): void;
  stop(): Promise<void>;
}

