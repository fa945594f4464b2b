import { EVENT_CATALOG, EVENT_TYPES, eventEnvelopeSchema } from '@parley/domain';
import { z } from 'zod';
import { MAX_JSON_DEPTH } from './input-guard';
import type { RouteDef } from './route';
import { problem } from '../routes/schemas';

/**
 * Schemas named with `.meta({ id })` (such as MessageContent) become shared components: each is
 * written once under components.schemas and referenced from every operation that uses it.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output', shared: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _ignored, $defs, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  if (!$defs) return rest;
  const toComponents = <T>(v: T): T => JSON.parse(JSON.stringify(v).replaceAll('"#/$defs/', '"#/components/schemas/')) as T;
  for (const [id, def] of Object.entries($defs as Record<string, unknown>)) shared[id] ??= toComponents(def);
  return toComponents(rest);
}

const problemResponses: Record<string, { code: string; description: string }> = {
  '400': { code: 'validation_error', description: `Malformed JSON, wrong types, unknown fields or a malformed \`cursor\` (\`validation_error\`); text holding NUL characters or unpaired UTF-16 surrogates (\`invalid_characters\`); JSON nested deeper than ${MAX_JSON_DEPTH} levels (\`nesting_too_deep\`). \`errors\` lists each path.` },
  '401': { code: 'unauthorized', description: 'Missing or invalid token (`unauthorized`), or expired (`token_expired`).' },
  '403': { code: 'forbidden', description: 'The token lacks the scope or role.' },
  '404': { code: 'not_found', description: 'No such resource in this organization.' },
  '413': { code: 'payload_too_large', description: 'Bodies are limited to 1 MiB.' },
};

/** The Standard Webhooks headers of every delivery. */
const webhookHeaders = [
  {
    name: 'webhook-id',
    in: 'header',
    required: true,
    schema: { type: 'string' },
    description: 'The event’s id (the body’s `id`): the same on every retry and replay of the event, so a receiver can drop duplicates.',
  },
  {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    schema: { type: 'string', pattern: '^[0-9]+$' },
    description: 'Seconds since the Unix epoch when this attempt was signed. Refuse deliveries whose timestamp is more than a few minutes off, against replays.',
  },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    schema: { type: 'string' },
    description:
      'Space-separated `v1,<base64 HMAC-SHA256>` signatures of `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed with the subscription’s `whsec_` secret (base64 after the prefix). During the 24 hours after a secret rotation there are two, one per secret; accept the delivery if any verifies.',
  },
];

/**
 * The events Parley POSTs to a subscription's URL, one entry per event name of the catalog
 * (packages/domain/src/events), with the envelope around each event's `data`.
 */
function webhooks(shared: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          operationId: `${type.replace(/\.(\w)/g, (_m, c: string) => c.toUpperCase())}Event`,
          summary: EVENT_CATALOG[type].summary,
          description: `Sent to subscriptions listing \`${type}\` or a prefix of it at whole segments (\`${type.split('.')[0]}\` receives it too). Delivery is at least once; any 2xx counts as delivered.`,
          tags: ['Webhooks'],
          parameters: webhookHeaders,
          requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(eventEnvelopeSchema(type), 'output', shared) } } },
          responses: {
            '2XX': { description: 'Delivered.' },
            '410': { description: 'Gone: the subscription is disabled and receives nothing more.' },
            default: {
              description: 'Not delivered: tried again after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (with jitter; a `Retry-After` is honoured). After failing continuously for 5 days the subscription is disabled.',
            },
          },
        },
      },
    ]),
  );
}

/**
 * The OpenAPI 3.1 document is derived from the very zod schemas that validate requests, so the
 * two cannot drift apart.
 */
export function buildOpenApi(routes: RouteDef[], info: { version: string; serverUrl?: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  const shared: Record<string, unknown> = {};
  for (const r of routes) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!schema || !(schema instanceof z.ZodObject)) continue;
      for (const [name, prop] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
        const s = jsonSchema(prop, 'input', shared);
        parameters.push({
          name,
          in: where,
          required: where === 'path' || !prop.safeParse(undefined).success,
          schema: s,
          ...(s.description ? { description: s.description } : {}),
        });
      }
    }
    if (r.idempotent) {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        schema: { type: 'string', maxLength: 255 },
        description:
          'Same key and body within 24 h replays the first answer (with `Idempotency-Replayed: true`); same key, other body: 422 `idempotency_key_reused`. The key is kept only if the request’s writes commit: after a 5xx or a lost connection, retry with the same key. A request sent while another with its key is running waits for it and replays its answer.',
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema ? { content: { [spec.contentType ?? 'application/json']: { schema: jsonSchema(spec.schema, 'output', shared) } } } : {}),
        ...(spec.headers
          ? { headers: Object.fromEntries(Object.entries(spec.headers).map(([name, h]) => [name, { description: h.description, schema: { type: h.type } }])) }
          : {}),
      };
    }
    const problems = ['400', ...(r.auth !== 'none' ? ['401', '403'] : []), ...(r.params ? ['404'] : []), ...(r.body ? ['413'] : [])];
    for (const status of problems) {
      const p = problemResponses[status]!;
      responses[status] ??= { description: p.description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
    }
    paths[path] ??= {};
    paths[path][r.method] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      ...(r.auth === 'none' ? { security: [] } : { security: [{ bearer: [] }] }),
      ...(r.permission ? { 'x-required-permission': r.permission } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input', shared) } } } } : {}),
      ...(r.upload
        ? {
            requestBody: {
              required: true,
              // OpenAPI 3.1: a file body is a type with no schema beyond its bytes.
              content: Object.fromEntries(r.upload.contentTypes.map((type) => [type, {}])),
            },
            'x-max-body-bytes': r.upload.maxBytes,
          }
        : {}),
      responses,
    };
  }
  const events = webhooks(shared);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley API',
      version: info.version,
      description:
        'Multi-tenant WhatsApp Business messaging. Errors are application/problem+json (RFC 9457) with a stable `code`. Lists take `limit` (max 200) and `cursor` and answer `{data, nextCursor}`. A resource of another organization is answered as 404.',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A user access token, a partner (installation) access token, or the platform operator token.',
        },
      },
      schemas: { Problem: jsonSchema(problem, 'output', shared), ...shared },
    },
    paths,
    webhooks: events,
  };
}
