/**
 * Embedded signup: Facebook's (JavaScript SDK, FB.login with the signup configuration) or, when
 * the API runs against the sandbox Graph API, the sandbox's stand-in window. Both answer with the
 * authorization code and, in a `WA_EMBEDDED_SIGNUP` message, the WABA and phone number ids.
 */
export interface ConsoleConfig {
  facebook: { appId: string; configId: string; graphVersion: string } | null;
  sandbox: { signupUrl: string; origin: string } | null;
}

export interface SignupResult {
  code: string;
  wabaId: string;
  phoneNumberId: string;
}

export class SignupCancelled extends Error {
  constructor(readonly step?: string) {
    super(step ? `Signup was closed at ${step.toLowerCase().replace(/_/g, ' ')}.` : 'Signup was closed before it finished.');
  }
}

/** The only origins Facebook's signup messages may come from. */
export const FACEBOOK_ORIGINS = ['https://www.facebook.com', 'https://web.facebook.com'];

interface SessionInfo {
  type?: string;
  event?: string;
  data?: { waba_id?: string; phone_number_id?: string; current_step?: string };
  authResponse?: { code?: string };
}

/** Reads a signup message if it came from an allowed origin; anything else is ignored. */
export function readSignupMessage(event: Pick<MessageEvent, 'origin' | 'data'>, allowed: readonly string[]): SessionInfo | undefined {
  if (!allowed.includes(event.origin)) return undefined;
  try {
    const message = (typeof event.data === 'string' ? JSON.parse(event.data) : event.data) as SessionInfo;
    return message && typeof message === 'object' ? message : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Collects the code and the ids, which arrive separately and in either order, from messages of
 * `allowed` origins; `code` may also be given directly (FB.login's callback).
 */
export function signupCollector(allowed: readonly string[]) {
  let code: string | undefined;
  let ids: { wabaId: string; phoneNumberId: string } | undefined;
  let settle: { resolve: (r: SignupResult) => void; reject: (e: Error) => void } | undefined;
  const result = new Promise<SignupResult>((resolve, reject) => (settle = { resolve, reject }));
  const check = () => {
    if (code && ids) settle?.resolve({ code, ...ids });
  };
  const onMessage = (event: MessageEvent) => {
    const message = readSignupMessage(event, allowed);
    if (!message) return;
    if (message.type === 'WA_EMBEDDED_SIGNUP') {
      if (message.event === 'FINISH' || message.event === 'FINISH_ONLY_WABA') {
        if (message.data?.waba_id && message.data.phone_number_id) ids = { wabaId: message.data.waba_id, phoneNumberId: message.data.phone_number_id };
      } else if (message.event === 'CANCEL') settle?.reject(new SignupCancelled(message.data?.current_step));
      else if (message.event === 'ERROR') settle?.reject(new Error('Facebook reported an error during signup.'));
    } else if (message.type === 'SANDBOX_AUTH_RESPONSE' && message.authResponse?.code) code = message.authResponse.code;
    check();
  };
  window.addEventListener('message', onMessage);
  return {
    result: result.finally(() => window.removeEventListener('message', onMessage)),
    setCode(value: string) {
      code = value;
      check();
    },
    fail(error: Error) {
      settle?.reject(error);
    },
  };
}

interface FacebookSdk {
  init(options: { appId: string; autoLogAppEvents: boolean; xfbml: boolean; version: string }): void;
  login(callback: (response: { authResponse?: { code?: string } | null; status?: string }) => void, options: Record<string, unknown>): void;
}

let sdk: Promise<FacebookSdk> | undefined;

function loadFacebookSdk(appId: string, version: string): Promise<FacebookSdk> {
  sdk ??= new Promise<FacebookSdk>((resolve, reject) => {
    const w = window as unknown as { FB?: FacebookSdk; fbAsyncInit?: () => void };
    w.fbAsyncInit = () => {
      w.FB!.init({ appId, autoLogAppEvents: true, xfbml: true, version });
      resolve(w.FB!);
    };
    const script = document.createElement('script');
    script.src = 'https://connect.facebook.net/en_US/sdk.js';
    script.async = true;
    script.defer = true;
    script.crossOrigin = 'anonymous';
    script.onerror = () => {
      sdk = undefined;
      reject(new Error('Facebook’s SDK could not be loaded (blocked or offline).'));
    };
    document.body.append(script);
  });
  return sdk;
}

/** Runs the signup the API's settings call for; resolves with what POST /v1/channels/whatsapp needs. */
export async function runSignup(config: ConsoleConfig): Promise<SignupResult> {
  if (config.sandbox) {
    const collector = signupCollector([config.sandbox.origin]);
    const url = `${config.sandbox.signupUrl}?origin=${encodeURIComponent(window.location.origin)}`;
    const popup = window.open(url, 'parley-signup', 'popup,width=520,height=640');
    if (!popup) collector.fail(new Error('The signup window was blocked: allow pop-ups for this page.'));
    return collector.result;
  }
  if (config.facebook) {
    const { appId, configId, graphVersion } = config.facebook;
    const FB = await loadFacebookSdk(appId, graphVersion);
    const collector = signupCollector(FACEBOOK_ORIGINS);
    FB.login(
      (response) => {
        if (response.authResponse?.code) collector.setCode(response.authResponse.code);
        else collector.fail(new SignupCancelled());
      },
      {
        config_id: configId,
        response_type: 'code',
        override_default_response_type: true,
        extras: { setup: {}, featureType: '', sessionInfoVersion: '3' },
      },
    );
    return collector.result;
  }
  throw new Error('Embedded signup is not configured: set META_APP_ID and META_SIGNUP_CONFIG_ID for the API.');
}
