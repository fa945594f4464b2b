/**
 * How a caller should react to a failed Graph call:
 * - `retryable`: try the same request again later (rate limits, Meta outages, network trouble);
 * - `window`: the 24 h customer-service window is closed, so only a template can reach the contact;
 * - `permanent`: repeating the request cannot succeed (bad number, bad template, bad token, ...).
 */
export type GraphErrorClassification = 'retryable' | 'window' | 'permanent';

/** Meta codes that mean "slow down", whatever HTTP status they arrive with. */
const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  4, // application request limit
  80007, // WABA rate limit
  130429, // Cloud API throughput
  131048, // spam rate limit
  131056, // business/consumer pair rate limit
]);

/** Re-engagement message: more than 24 h since the contact last wrote. */
const WINDOW_CODE = 131047;

/** The `code` of errors Meta did not produce (network failure, timeout, non-Meta HTTP error, ...). */
export const NO_META_CODE = -1;

/**
 * Pure so that the broadcast workflow and the webhook (failed statuses carry the same codes) can
 * classify without a GraphError in hand. `status` 0 means the request got no HTTP answer.
 */
export function classifyGraphError({ status, code }: { status: number; code?: number | null }): GraphErrorClassification {
  if (code === WINDOW_CODE) return 'window';
  if (code !== undefined && code !== null && RETRYABLE_CODES.has(code)) return 'retryable';
  if (status === 0 || status === 429 || status >= 500) return 'retryable';
  return 'permanent';
}

/**
 * `type` is Meta's error type (`OAuthException`, ...) when Meta answered, otherwise one of these,
 * so callers can tell why there is no Meta code. A `TimeoutError` on a send is ambiguous: Meta may
 * have accepted the message before the answer was lost.
 */
export type LocalGraphErrorType = 'NetworkError' | 'TimeoutError' | 'HttpError' | 'InvalidResponse' | 'MediaTooLarge' | 'InvalidRequest';

export interface GraphErrorInit {
  status: number;
  code: number;
  subcode?: number | undefined;
  message: string;
  title?: string | undefined;
  userMessage?: string | undefined;
  details?: string | undefined;
  fbtraceId?: string | undefined;
  type?: string | undefined;
  endpoint?: string | undefined;
  classification?: GraphErrorClassification | undefined;
  /** For a `NetworkError`: the whole request had left this process before the failure. */
  requestSent?: boolean | undefined;
}

export class GraphError extends Error {
  /** HTTP status of Meta's answer; 0 when there was none (network error, timeout). */
  readonly status: number;
  /** Meta's `error.code`, or NO_META_CODE. */
  readonly code: number;
  /** Meta's `error.error_subcode`. */
  readonly subcode: number | undefined;
  /** Meta's `error_user_title`, falling back to its `message`: what the contract shows as the error's title. */
  readonly title: string;
  /** Meta's `error_user_msg`. */
  readonly userMessage: string | undefined;
  /** Meta's `error_data.details`. */
  readonly details: string | undefined;
  readonly fbtraceId: string | undefined;
  readonly type: string | undefined;
  /** `METHOD /path` with secret query parameters redacted, for the operator reading a log line. */
  readonly endpoint: string | undefined;
  readonly classification: GraphErrorClassification;
  /**
   * Meta may have acted on the request although no answer came: a timeout, or a connection lost
   * after the request was sent. A send that fails like this must not be repeated blindly, since
   * Meta has no idempotency key; its fate comes from the status webhooks.
   */
  readonly mayHaveReachedMeta: boolean;

  constructor(init: GraphErrorInit) {
    super(init.message);
    this.name = 'GraphError';
    this.status = init.status;
    this.code = init.code;
    this.subcode = init.subcode;
    this.title = init.title ?? init.message;
    this.userMessage = init.userMessage;
    this.details = init.details;
    this.fbtraceId = init.fbtraceId;
    this.type = init.type;
    this.endpoint = init.endpoint;
    this.classification = init.classification ?? classifyGraphError({ status: init.status, code: init.code });
    this.mayHaveReachedMeta = init.type === 'TimeoutError' || (init.type === 'NetworkError' && init.requestSent === true);
  }

  get retryable(): boolean {
    return this.classification === 'retryable';
  }
}

export function isGraphError(value: unknown): value is GraphError {
  return value instanceof GraphError;
}
