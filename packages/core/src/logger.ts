import { pino, type DestinationStream, type Logger } from 'pino';
import { redactError } from './safe-error';

export type { DestinationStream, Logger };

/**
 * Paths that never reach a log line. pino's redaction runs on the serialized object, so request
 * headers and any field that commonly holds a secret are covered wherever they appear.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.Authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'authorization',
  'Authorization',
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

const serializeError = (err: unknown) => pino.stdSerializers.err(redactError(err) as Error);

/** `destination` defaults to stdout; tests pass a stream to read what would be logged. */
export function createLogger(options: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const pinoOptions = {
    level: options.level ?? 'info',
    name: options.name,
    base: { service: options.name },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Database errors carry their statement, bound values inlined, in message and stack. `error`
    // is where the Temporal SDK puts the errors it logs.
    serializers: { err: serializeError, error: serializeError },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
