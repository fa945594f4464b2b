import { constantTimeEqual, DomainError, UnauthorizedError, ValidationError } from '@parley/core';
import { metaWebhookPayload } from '@parley/domain';
import { verifyMetaSignature } from '@parley/graph';
import { z } from 'zod';
import { assertSafeInput } from '../http/input-guard';
import { route, zodProblems } from '../http/route';
import type { Services } from '../services';
import { problem, webhookOverloaded } from './schemas';

export function metaWebhookRoutes(s: Services, secrets: { appSecret: string; verifyToken: string }) {
  return [
    route({
      method: 'get',
      path: '/webhooks/meta',
      operationId: 'verifyMetaWebhook',
      summary: 'Meta’s subscription challenge',
      description: 'Answers `hub.challenge` when `hub.verify_token` equals META_VERIFY_TOKEN, else 403.',
      tag: 'Meta webhook',
      auth: 'none',
      query: z.object({ 'hub.mode': z.string().optional(), 'hub.verify_token': z.string().optional(), 'hub.challenge': z.string().optional() }).loose(),
      responses: { 200: { description: 'The challenge, as text/plain', contentType: 'text/plain' }, 403: { description: 'Wrong verify token' } },
      handler: async ({ query }) => {
        const ok =
          query['hub.mode'] === 'subscribe' &&
          typeof query['hub.verify_token'] === 'string' &&
          constantTimeEqual(query['hub.verify_token'], secrets.verifyToken) &&
          typeof query['hub.challenge'] === 'string';
        if (!ok) throw new DomainError(403, 'forbidden', 'Forbidden', 'The verify token does not match.');
        return { status: 200, body: query['hub.challenge'], headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
      },
    }),
    route({
      method: 'post',
      path: '/webhooks/meta',
      operationId: 'receiveMetaWebhook',
      summary: 'Meta’s event delivery (messages and statuses)',
      description:
        'Requires `X-Hub-Signature-256` over the raw body keyed with META_APP_SECRET (else 401, nothing stored). Answers 200 only once the delivery is durably stored; processing follows, each message, status and change applied or set aside on its own (see the operator’s `/v1/operator/inbound-failures`). Deliveries for unknown phone number ids (and unknown WABAs, for account and template notices) are answered 200 and not stored. NUL characters and unpaired surrogates are stored as their visible escape.',
      tag: 'Meta webhook',
      auth: 'none',
      ownsBody: true,
      responses: {
        200: { description: 'Stored (or ignored)', schema: z.object({ received: z.literal(true) }) },
        400: { description: 'Not JSON (`invalid_json`), not a webhook envelope, or nested deeper than 32 levels (`nesting_too_deep`)', schema: problem, contentType: 'application/problem+json' },
        401: { description: 'Missing or wrong X-Hub-Signature-256', schema: problem, contentType: 'application/problem+json' },
        503: webhookOverloaded,
      },
      handler: async ({ ctx }) => {
        const raw = ctx.state.rawBody ?? Buffer.alloc(0);
        if (!verifyMetaSignature(raw, ctx.get('x-hub-signature-256') || undefined, secrets.appSecret)) {
          throw new UnauthorizedError('unauthorized', 'X-Hub-Signature-256 is missing or does not match the body.');
        }
        if (ctx.state.bodyError) throw ctx.state.bodyError;
        if (raw.length === 0) throw new ValidationError([], 'The request body is empty.', 'invalid_json');
        assertSafeInput(ctx.state.body, undefined, { text: false });
        const payload = metaWebhookPayload.safeParse(ctx.state.body);
        if (!payload.success) throw new ValidationError(zodProblems(payload.error), 'Not a WhatsApp Business webhook payload.');
        await s.metaIngest.ingest(payload.data, raw.toString('utf8'));
        return { status: 200, body: { received: true } };
      },
    }),
  ];
}
