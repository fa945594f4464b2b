import type { Config } from '@parley/config';

/**
 * What the console needs before sign-in, served as /console/config.json (apps/api/src/http/console.ts):
 * Facebook's embedded signup settings (null without META_APP_ID and META_SIGNUP_CONFIG_ID), and the
 * sandbox's stand-in signup window when META_GRAPH_URL points at the sandbox (the console then
 * accepts signup messages from its `origin`, and only then).
 */
export interface ConsoleConfig {
  facebook: { appId: string; configId: string; graphVersion: string } | null;
  sandbox: { signupUrl: string; origin: string } | null;
}

/**
 * Whether the Graph API configured is the sandbox (apps/sandbox-graph), asked once: it answers
 * GET /_sandbox/health. Meta's own hosts are never asked.
 */
function sandboxProbe(graphUrl: string, fetchImpl: typeof fetch = fetch): () => Promise<{ signupUrl: string; origin: string } | null> {
  let answer: Promise<{ signupUrl: string; origin: string } | null> | undefined;
  return () =>
    (answer ??= (async () => {
      const url = new URL(graphUrl);
      if (url.hostname.endsWith('facebook.com')) return null;
      try {
        const res = await fetchImpl(new URL('/_sandbox/health', url.origin), { signal: AbortSignal.timeout(2000) });
        const body = (await res.json()) as { ok?: unknown };
        return res.ok && body.ok === true ? { signupUrl: new URL('/_sandbox/embedded-signup', url.origin).href, origin: url.origin } : null;
      } catch {
        return null;
      }
    })().then((found) => {
      // A sandbox that was not up yet is asked again next time.
      if (!found) answer = undefined;
      return found;
    }));
}

export function consoleConfigProvider(config: Config, options: { fetch?: typeof fetch } = {}): () => Promise<ConsoleConfig> {
  const sandbox = sandboxProbe(config.meta.graphUrl, options.fetch);
  return async () => {
    const { appId, signupConfigId, graphVersion } = config.meta;
    return { facebook: appId && signupConfigId ? { appId, configId: signupConfigId, graphVersion } : null, sandbox: await sandbox() };
  };
}
