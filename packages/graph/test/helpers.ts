import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@parley/core';
import { GraphClient, type GraphClientOptions, GraphError } from '@parley/graph';
import { expect } from 'vitest';

export const BASE = 'https://graph.test';
export const VERSION = 'v23.0';
export const APP_ID = '1234567890123';
export const APP_SECRET = 'app-secret-0123456789abcdef';
/** Shaped like a real business token so the generic EAA… scrubbing is exercised too. */
export const TOKEN = 'EAAGm0PX4ZCpsBAbusinessTokenValue0123456789xyz';
export const PHONE_ID = '106540352242922';
export const WABA_ID = '102290129340398';

export interface CapturedLogs {
  logger: Logger;
  lines: () => string[];
  text: () => string;
}

/** A real pino logger (with the platform's redaction) whose output the test can read. */
export function captureLogs(): CapturedLogs {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ level: 'debug', name: 'graph-test', destination });
  return { logger, lines: () => lines, text: () => lines.join('\n') };
}

export function makeClient(options: Partial<GraphClientOptions> = {}): GraphClient {
  return new GraphClient({ baseUrl: BASE, version: VERSION, appId: APP_ID, appSecret: APP_SECRET, ...options });
}

/** Meta's error envelope. */
export function metaError(fields: {
  code: number;
  message?: string;
  subcode?: number;
  title?: string;
  userMessage?: string;
  details?: string;
  type?: string;
  fbtraceId?: string;
}) {
  return {
    error: {
      message: fields.message ?? `(#${fields.code}) Something failed`,
      type: fields.type ?? 'OAuthException',
      code: fields.code,
      ...(fields.subcode !== undefined ? { error_subcode: fields.subcode } : {}),
      ...(fields.details !== undefined ? { error_data: { messaging_product: 'whatsapp', details: fields.details } } : {}),
      ...(fields.title !== undefined ? { error_user_title: fields.title } : {}),
      ...(fields.userMessage !== undefined ? { error_user_msg: fields.userMessage } : {}),
      fbtrace_id: fields.fbtraceId ?? 'AbCdEfGhIjK',
    },
  };
}

/** The GraphError a call rejects with (failing the test if it resolves or rejects otherwise). */
export async function caught(promise: Promise<unknown>): Promise<GraphError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphError);
  return error as GraphError;
}
