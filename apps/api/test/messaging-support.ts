import { randomInt } from 'node:crypto';
import { type Clock, createLogger, systemClock } from '@parley/core';
import { type Channel, Template } from '@parley/db';
import { OutboundSender } from '@parley/domain';
import { GraphError, type SendMessagePayload } from '@parley/graph';
import { expect } from 'vitest';
import { createTenant, PASSWORD, uniqueEmail, type Answer, type TestApi, type Tenant } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';
import { inbound, type Route, sign, status, wamid } from '../../../test/fixtures/meta';

/**
 * Shared by the conversation, inbox and opt-out tests. Test files share one database and the
 * outbox sender claims every pending message, whoever queued it, so assertions about what reached
 * "Meta" always look only at the calls for the test's own phone number id.
 */

export interface SendCall {
  token: string;
  phoneNumberId: string;
  payload: SendMessagePayload & { biz_opaque_callback_data?: string; context?: { message_id: string } };
  /** The message id named by the send's callback tag (`msg:<id>`). */
  messageId: string;
}

/** What the fake answers to one send: a wamid, an error to throw, or a function that decides. */
export type SendOutcome = { wamid: string } | GraphError | ((call: SendCall) => Promise<{ wamid: string }> | { wamid: string });

/** A Graph API that records sends and answers from a per-message script (default: a fresh wamid). */
export class FakeGraph {
  readonly calls: SendCall[] = [];
  private readonly scripts = new Map<string, SendOutcome[]>();

  /** The next sends of `messageId` answer these outcomes in order; later ones succeed. */
  script(messageId: string, ...outcomes: SendOutcome[]): void {
    this.scripts.set(messageId, [...(this.scripts.get(messageId) ?? []), ...outcomes]);
  }

  callsFor(channel: Pick<Channel, 'phoneNumberId'>): SendCall[] {
    return this.calls.filter((c) => c.phoneNumberId === channel.phoneNumberId);
  }

  callsOf(messageId: string): SendCall[] {
    return this.calls.filter((c) => c.messageId === messageId);
  }

  async sendMessage(token: string, phoneNumberId: string, payload: SendMessagePayload): Promise<{ wamid: string }> {
    const tag = (payload as { biz_opaque_callback_data?: string }).biz_opaque_callback_data ?? '';
    const call: SendCall = { token, phoneNumberId, payload: structuredClone(payload) as SendCall['payload'], messageId: tag.replace(/^msg:/, '') };
    this.calls.push(call);
    const queue = this.scripts.get(call.messageId);
    const next = queue?.shift();
    if (next === undefined) return { wamid: wamid() };
    if (next instanceof GraphError) throw next;
    if (typeof next === 'function') return next(call);
    return next;
  }
}

export function newSender(api: TestApi, graph: FakeGraph, clock: Clock = systemClock): OutboundSender {
  return new OutboundSender(api.orm, graph, api.config.encryptionKey, clock, createLogger({ level: 'silent' }));
}

export interface Org {
  tenant: Tenant;
  orgId: string;
  token: string;
  channel: Channel;
  route: Route;
}

export async function newOrg(api: TestApi): Promise<Org> {
  const tenant = await createTenant(api);
  const channel = await insertChannel(api, tenant.organizationId);
  return {
    tenant,
    orgId: tenant.organizationId,
    token: tenant.adminToken,
    channel,
    route: { wabaId: channel.wabaId, phoneNumberId: channel.phoneNumberId },
  };
}

/** A phone number (Meta's `from`: digits, no plus) unlikely to collide inside one organization. */
export function newPhone(): string {
  return `5025${randomInt(1_000_000, 9_999_999)}`;
}

export async function postSigned(api: TestApi, payload: unknown): Promise<Answer> {
  const raw = JSON.stringify(payload);
  const res = await api.call('POST', '/webhooks/meta', {
    raw,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(raw, api.config.meta.appSecret) },
  });
  expect(res.status, res.text).toBe(200);
  return res;
}

/** The contact writes (which opens their 24-hour window); returns the inbound wamid once applied. */
export async function contactWrites(
  api: TestApi,
  route: Route,
  from: string,
  text = 'Hola, ¿tienen envío?',
  options: { at?: Date; name?: string } = {},
): Promise<string> {
  const message = inbound(route, from, { type: 'text', text: { body: text } }, options);
  await postSigned(api, message.payload);
  await api.app.services.metaProcessor.settle();
  return message.id;
}

/** A signed status webhook for `id`, applied. */
export async function metaStatus(
  api: TestApi,
  route: Route,
  id: string,
  value: 'sent' | 'delivered' | 'read' | 'failed',
  options: { callback?: string; errors?: unknown[]; recipient?: string } = {},
): Promise<void> {
  await postSigned(api, status(route, id, value, options));
  await api.app.services.metaProcessor.settle();
}

/** The conversation id of the contact who wrote from `from`, as the inbox lists it. */
export async function conversationOf(api: TestApi, token: string, from: string): Promise<{ id: string; contactId: string }> {
  const list = await api.call('GET', '/v1/conversations?limit=200', { token });
  expect(list.status, list.text).toBe(200);
  const row = (list.body.data as { id: string; status: string; contact: { id: string; phone: string } }[]).find(
    (c) => c.contact.phone === `+${from}` && c.status !== 'closed',
  );
  expect(row, `no conversation for +${from}`).toBeDefined();
  return { id: row!.id, contactId: row!.contact.id };
}

export async function newUser(api: TestApi, tenant: Tenant, role: 'admin' | 'agent', name = 'Ana Agent'): Promise<{ id: string; token: string; email: string; name: string }> {
  const email = uniqueEmail(role);
  const created = await api.call('POST', '/v1/users', { token: tenant.adminToken, body: { email, password: PASSWORD, name, role } });
  expect(created.status, created.text).toBe(201);
  const login = await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  expect(login.status, login.text).toBe(200);
  return { id: created.body.id, token: login.body.accessToken, email, name };
}

/** A synced template, written as a sync would store it: Meta's components verbatim. */
export async function insertTemplate(
  api: TestApi,
  org: Pick<Org, 'orgId' | 'channel'>,
  options: { name?: string; language?: string; category?: string; status?: string; components?: unknown[] } = {},
): Promise<Template> {
  const template = new Template(
    org.orgId,
    org.channel.id,
    String(randomInt(100_000_000, 999_999_999)),
    options.name ?? 'order_update',
    options.language ?? 'en_US',
    options.status ?? 'APPROVED',
    options.category ?? 'UTILITY',
    'POSITIONAL',
    options.components ?? [
      {
        type: 'BODY',
        text: 'Hi {{1}}, your order {{2}} has shipped.',
        example: { body_text: [['Ana', 'A-1001']] },
      },
      { type: 'FOOTER', text: 'Acme' },
    ],
  );
  await api.orm.em.fork().persistAndFlush(template);
  return template;
}
