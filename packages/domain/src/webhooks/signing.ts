import { Webhook } from 'standardwebhooks';

/**
 * The Standard Webhooks headers of one delivery. During a rotation's grace period both secrets
 * sign, space-separated, so a receiver holding either verifies.
 */
export function signDelivery(
  secrets: readonly string[],
  webhookId: string,
  at: Date,
  body: string,
): { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string } {
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => signer(s).sign(webhookId, at, body)).join(' '),
  };
}

// Building a signer decodes its secret; a dispatcher signs with the same few secrets all day.
const signers = new Map<string, Webhook>();
function signer(secret: string): Webhook {
  let w = signers.get(secret);
  if (!w) {
    if (signers.size > 10_000) signers.clear();
    w = new Webhook(secret);
    signers.set(secret, w);
  }
  return w;
}

/**
 * The delivery body: the event envelope of the contract, with `data` spliced in as the database
 * wrote it, so every attempt of an event carries the same bytes.
 */
export function deliveryBody(event: { id: string; type: string; createdAt: Date; organizationId: string; sequence: string | number; dataJson: string }): string {
  return `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"createdAt":${JSON.stringify(event.createdAt.toISOString())},"organizationId":${JSON.stringify(event.organizationId)},"sequence":${Number(event.sequence)},"data":${event.dataJson}}`;
}
