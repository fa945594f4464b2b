import { randomBytes } from 'node:crypto';

/** Meta's error envelope, as the Graph API answers it. */
export interface MetaErrorBody {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    error_data: { messaging_product: 'whatsapp'; details: string };
    error_user_title: string;
    error_user_msg: string;
    fbtrace_id: string;
  };
}

/** One error to answer; anything left out comes from the catalogue entry for `code`. */
export interface MetaErrorSpec {
  code: number;
  subcode?: number;
  /** The top-level `message`; defaults to `(#code) title`. */
  message?: string;
  title?: string;
  details?: string;
  httpStatus?: number;
}

interface CatalogueEntry {
  title: string;
  details?: string;
  message?: string;
  httpStatus?: number;
}

/**
 * Titles and details as Meta words them (Cloud API error-code reference), so that whatever Parley
 * shows its users for a failed send looks like what production will show.
 */
export const META_ERRORS: Readonly<Record<number, CatalogueEntry>> = {
  1: { title: 'An unknown error occurred', message: 'An unknown error occurred', details: 'An unknown error occurred.', httpStatus: 500 },
  2: { title: 'Service temporarily unavailable', message: 'Service temporarily unavailable', details: 'Service temporarily unavailable due to downtime or overload.', httpStatus: 503 },
  4: { title: 'Application request limit reached', details: 'The app has reached its API call rate limit.', httpStatus: 400 },
  10: { title: 'Permission denied', details: 'Permission is either not granted or has been removed.', httpStatus: 403 },
  100: { title: 'Invalid parameter', details: 'Invalid parameter' },
  101: { title: 'Invalid application ID', message: 'Error validating application. Invalid application ID.', details: 'Invalid application ID.' },
  104: { title: 'Access token required', message: 'An access token is required to request this resource.', details: 'An access token is required to request this resource.' },
  190: { title: 'Invalid OAuth access token', message: 'Invalid OAuth access token - Cannot parse access token', details: 'Invalid OAuth access token - Cannot parse access token', httpStatus: 401 },
  200: { title: 'Permission denied', details: 'Permission is either not granted or has been removed.', httpStatus: 403 },
  368: { title: 'Temporarily blocked for policies violations', details: 'The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.' },
  2500: { title: 'Unknown path components', details: 'Unknown path components' },
  80007: { title: 'Rate limit issues', details: 'The WhatsApp Business Account has reached its rate limit.' },
  130429: { title: 'Rate limit hit', details: 'Cloud API message throughput has been reached.', httpStatus: 429 },
  130472: { title: "User's number is part of an experiment", details: "Message was not sent as part of an experiment." },
  131000: { title: 'Something went wrong', details: 'Message failed to send due to an unknown error.', httpStatus: 500 },
  131005: { title: 'Access denied', details: 'Permission is either not granted or has been removed.', httpStatus: 403 },
  131008: { title: 'Required parameter is missing', details: 'The request is missing a required parameter.' },
  131009: { title: 'Parameter value is not valid', details: 'One or more parameter values are invalid.' },
  131016: { title: 'Service unavailable', details: 'A service is temporarily unavailable.', httpStatus: 503 },
  131021: { title: 'Recipient cannot be sender', details: 'Sender and recipient phone number is the same.' },
  131026: { title: 'Message undeliverable', details: 'Message Undeliverable.' },
  131031: { title: 'Account has been locked', details: 'The WhatsApp Business Account associated with the app has been restricted or disabled.' },
  131042: { title: 'Business eligibility payment issue', details: 'There was an error related to your payment method.' },
  131047: {
    title: 'Re-engagement message',
    details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  131048: {
    title: 'Spam rate limit hit',
    details:
      'Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.',
  },
  131049: { title: 'Meta chose not to deliver.', details: 'This message was not delivered to maintain healthy ecosystem engagement.' },
  131050: {
    title: 'User has stopped marketing messages',
    details: 'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.',
  },
  131051: { title: 'Unsupported message type', details: 'Unsupported message type.' },
  131052: { title: 'Media download error', details: 'Unable to download the media sent by the user.' },
  131053: { title: 'Media upload error', details: 'Unable to upload the media used in the message.' },
  131056: {
    title: '(Business Account, Consumer Account) pair rate limit hit',
    details: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.',
  },
  131057: { title: 'Account in maintenance mode', details: 'Business Account is in maintenance mode.' },
  132000: { title: 'Number of parameters does not match the expected number of params', details: 'Template Param Count Mismatch.' },
  132001: { title: 'Template name does not exist in the translation', details: 'Template does not exist.' },
  132005: { title: 'Translated text too long', details: 'Template Hydrated Text Too Long.' },
  132007: { title: 'Template Format Character Policy Violated', details: 'Template content violates a WhatsApp policy.' },
  132012: { title: 'Parameter format does not match format in the created template', details: 'Template Parameter Format Mismatch.' },
  132015: { title: 'Template is Paused', details: 'Template is paused due to low quality so it cannot be sent in a template message.' },
  132016: { title: 'Template is Disabled', details: 'Template has been paused too many times due to low quality and is now permanently disabled.' },
  133010: { title: 'Phone number Not Registered', details: 'Account not registered.' },
  135000: { title: 'Generic user error', details: 'Message failed to send because of an unknown error with your request parameters.' },
};

/** The HTTP status Meta pairs with an error code: throttling 429, platform trouble 5xx, auth 401/403, else 400. */
export function httpStatusForCode(code: number): number {
  return META_ERRORS[code]?.httpStatus ?? 400;
}

export function errorTitle(code: number): string {
  return META_ERRORS[code]?.title ?? 'Unknown error';
}

export function fbtraceId(): string {
  return randomBytes(9).toString('base64url');
}

export function metaErrorBody(spec: MetaErrorSpec): MetaErrorBody {
  const entry = META_ERRORS[spec.code];
  const title = spec.title ?? entry?.title ?? 'Unknown error';
  const details = spec.details ?? entry?.details ?? title;
  const message = spec.message ?? (spec.title ? `(#${spec.code}) ${spec.title}` : (entry?.message ?? `(#${spec.code}) ${title}`));
  return {
    error: {
      message,
      type: 'OAuthException',
      code: spec.code,
      ...(spec.subcode !== undefined ? { error_subcode: spec.subcode } : {}),
      error_data: { messaging_product: 'whatsapp', details },
      error_user_title: title,
      error_user_msg: details,
      fbtrace_id: fbtraceId(),
    },
  };
}

/** Thrown by route handlers; the server turns it into Meta's envelope with the matching status. */
export class GraphError extends Error {
  readonly spec: MetaErrorSpec;
  readonly status: number;

  constructor(spec: MetaErrorSpec) {
    super(spec.message ?? `(#${spec.code}) ${spec.title ?? errorTitle(spec.code)}`);
    this.name = 'GraphError';
    this.spec = spec;
    this.status = spec.httpStatus ?? httpStatusForCode(spec.code);
  }

  body(): MetaErrorBody {
    return metaErrorBody(this.spec);
  }
}

/** `(#100) ...` with a specific details text, the form most parameter errors take. */
export function invalidParameter(details: string, code = 100, subcode?: number): GraphError {
  const title = code === 100 ? 'Invalid parameter' : errorTitle(code);
  return new GraphError({ code, subcode, message: `(#${code}) ${code === 100 ? details : title}`, title, details });
}
