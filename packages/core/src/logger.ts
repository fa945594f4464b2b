import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that never reach a log line. pino's redaction runs on the serialized object, so request
 * headers and any field that commonly holds a secret are covered wherever they appear.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'refresh_token',
  '*.refresh_token',
  'secret',
  '*.secret',
  'access_token',
  '*.access_token',
  'businessToken',
  '*.businessToken',
];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    name: options.name,
    base: { service: options.name },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
