import { ConsentEvent, Contact, DomainEvent, Message, UNSCOPED } from '@parley/db';
import { DEFAULT_OPT_OUT } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installApp, startTestApi, type TestApi } from '../../../test/support/api';
import { inbound } from '../../../test/fixtures/meta';
import { expectProblem } from './helpers';
import { contactWrites, conversationOf, insertTemplate, newOrg, newPhone, newUser, type Org, postSigned } from './messaging-support';

/**
 * Consent: opt-out and opt-in keywords (each change in a ledger with time and cause, with a
 * confirmation reply), what an opted-out contact may still receive, and the per-organization
 * settings.
 *
 * Confirmation replies are queued in the shared outbox, where a sender from another test file may
 * pick them up at any moment, so their send status is not asserted here.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

const em = () => api.orm.em.fork();

interface Written {
  from: string;
  conversationId: string;
  contactId: string;
}

async function writes(org: Org, text: string, from = newPhone()): Promise<Written> {
  await contactWrites(api, org.route, from, text);
  const { id, contactId } = await conversationOf(api, org.token, from);
  return { from, conversationId: id, contactId };
}

async function ledger(org: Org, contactId: string) {
  const res = await api.call('GET', `/v1/contacts/${contactId}/consent`, { token: org.token });
  expect(res.status, res.text).toBe(200);
  return res.body as {
    contact: { id: string; optedOut: boolean; marketingOptedOut: boolean; phone: string };
    data: { change: string; cause: string; detail: string | null; at: string }[];
  };
}

/** The bot's outbound messages in the conversation, oldest first. */
async function replies(conversationId: string): Promise<Message[]> {
  return em().find(Message, { conversation: conversationId, direction: 'outbound' }, { ...UNSCOPED, orderBy: { id: 'asc' } });
}

async function sendTemplate(org: Org, conversationId: string, name = 'order_update') {
  return api.call('POST', `/v1/conversations/${conversationId}/messages`, {
    token: org.token,
    body: { type: 'template', template: { name, language: 'en_US' }, params: { 1: 'Ana', 2: 'A-1' } },
  });
}

describe('opt-out keywords', () => {
  it.each(['STOP', ' Unsubscribe ', 'optout', 'Stop'])('%j opts the contact out, with a ledger entry and a confirmation reply', async (keyword) => {
    const org = await newOrg(api);
    const before = Date.now();
    const w = await writes(org, keyword);
    const contact = await em().findOneOrFail(Contact, { id: w.contactId }, UNSCOPED);
    expect(contact.optedOut).toBe(true);
    expect(contact.optedOutAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);

    const l = await ledger(org, w.contactId);
    expect(l.contact).toEqual({ id: w.contactId, phone: `+${w.from}`, optedOut: true, marketingOptedOut: false });
    expect(l.data).toEqual([{ id: expect.any(String), change: 'opt_out', cause: 'keyword', detail: expect.stringContaining(keyword.trim()), at: expect.any(String) }]);
    expect(new Date(l.data[0]!.at).getTime()).toBeGreaterThanOrEqual(before - 1000);

    const [reply, ...more] = await replies(w.conversationId);
    expect(more).toEqual([]);
    expect(reply).toMatchObject({ role: 'bot', type: 'text', channel: org.channel.id });
    expect(reply!.content.text).toBe(DEFAULT_OPT_OUT.confirmationText);
    expect(['queued', 'sent']).toContain(reply!.status);
    const event = await em().findOneOrFail(DomainEvent, { organization: org.orgId, type: 'message.create.contact.chat.bot' }, UNSCOPED);
    expect((event.data.message as { id: string }).id).toBe(reply!.id);

    const view = await api.call('GET', `/v1/conversations/${w.conversationId}`, { token: org.token });
    expect(view.body.canSend).toEqual({ freeForm: true, templates: false, marketingTemplates: false });
  });

  it('refuses templates to an opted-out contact with 422 contact_opted_out, on every route, but allows a reply inside the window', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org);
    const w = await writes(org, 'stop');
    expectProblem(await sendTemplate(org, w.conversationId), 422, 'contact_opted_out');
    expectProblem(
      await api.call('POST', '/v1/messages', { token: org.token, body: { phoneNumber: `+${w.from}`, template: { name: 'order_update', language: 'en_US' }, params: { 1: 'A', 2: 'B' } } }),
      422,
      'contact_opted_out',
    );
    const upsert = await api.call('POST', '/v1/conversations', {
      token: org.token,
      body: {
        type: 'contact',
        contact: { profile: { telephone: `+${w.from}` } },
        messages: [
          { type: 'field', text: '.licenseplate XX-99-WZ' },
          { type: 'chat', meta: { template: 'order_update', 1: 'A', 2: 'B' } },
        ],
      },
    });
    expectProblem(upsert, 422, 'contact_opted_out');
    expect((await em().findOneOrFail(Contact, { id: w.contactId }, UNSCOPED)).fields).toEqual({});
    expect(await replies(w.conversationId)).toHaveLength(1); // only the confirmation

    const reply = await api.call('POST', `/v1/conversations/${w.conversationId}/messages`, { token: org.token, body: { type: 'text', text: 'Done, sorry for the noise.' } });
    expect(reply.status, reply.text).toBe(202);
    expect(await replies(w.conversationId)).toHaveLength(2);
  });

  it('opts back in on start or optin, with its own ledger entry and reply; templates are allowed again', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org);
    const w = await writes(org, 'STOP');
    await writes(org, ' START ', w.from);
    expect((await em().findOneOrFail(Contact, { id: w.contactId }, UNSCOPED)).optedOut).toBe(false);
    expect((await sendTemplate(org, w.conversationId)).status).toBe(202);
    await writes(org, 'unsubscribe', w.from);
    await writes(org, 'OptIn', w.from);

    const l = await ledger(org, w.contactId);
    // Newest first.
    expect(l.data.map((e) => [e.change, e.cause])).toEqual([
      ['opt_in', 'keyword'],
      ['opt_out', 'keyword'],
      ['opt_in', 'keyword'],
      ['opt_out', 'keyword'],
    ]);
    expect(l.contact.optedOut).toBe(false);
    const texts = (await replies(w.conversationId)).filter((m) => m.type === 'text').map((m) => m.content.text);
    expect(texts).toEqual([DEFAULT_OPT_OUT.confirmationText, DEFAULT_OPT_OUT.optInConfirmationText, DEFAULT_OPT_OUT.confirmationText, DEFAULT_OPT_OUT.optInConfirmationText]);
  });

  it('ignores texts that only contain a keyword, opt-ins of a contact who never opted out, and repeats', async () => {
    const org = await newOrg(api);
    const w = await writes(org, 'stop please');
    for (const text of ['STOP!', 'please stop', 'st op', 'start']) await writes(org, text, w.from);
    expect((await ledger(org, w.contactId)).data).toEqual([]);
    expect(await replies(w.conversationId)).toEqual([]);

    await writes(org, 'stop', w.from);
    await writes(org, 'STOP', w.from);
    expect((await ledger(org, w.contactId)).data).toHaveLength(1);
    expect(await replies(w.conversationId)).toHaveLength(1);

    // Meta redelivering the same message changes nothing either.
    const again = inbound(org.route, w.from, { type: 'text', text: { body: 'optin' } });
    await postSigned(api, again.payload);
    await postSigned(api, again.payload);
    await api.app.services.metaProcessor.settle();
    expect((await ledger(org, w.contactId)).data.map((e) => e.change)).toEqual(['opt_in', 'opt_out']);
    expect(await replies(w.conversationId)).toHaveLength(2);
  });

  it('takes the text of a tapped quick-reply button as a keyword too', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    const tap = inbound(org.route, from, { type: 'button', button: { text: 'Stop', payload: 'STOP_PROMOTIONS' } });
    await postSigned(api, tap.payload);
    await api.app.services.metaProcessor.settle();
    const { contactId } = await conversationOf(api, org.token, from);
    expect((await ledger(org, contactId)).data.map((e) => e.change)).toEqual(['opt_out']);
  });
});

describe('PUT /v1/settings/opt-out', () => {
  it('replaces the keywords and the confirmation text (null sends none)', async () => {
    const org = await newOrg(api);
    const initial = await api.call('GET', '/v1/settings/opt-out', { token: org.token });
    expect(initial.status).toBe(200);
    expect(initial.body).toEqual(DEFAULT_OPT_OUT);

    const put = await api.call('PUT', '/v1/settings/opt-out', { token: org.token, body: { keywords: [' Baja ', 'STOP', 'baja'], confirmationText: null } });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toEqual({ ...DEFAULT_OPT_OUT, keywords: ['baja', 'stop'], confirmationText: null });
    expect((await api.call('GET', '/v1/settings/opt-out', { token: org.token })).body).toEqual(put.body);

    // No longer a keyword here.
    const u = await writes(org, 'unsubscribe');
    expect((await ledger(org, u.contactId)).data).toEqual([]);

    const b = await writes(org, 'BAJA');
    expect((await ledger(org, b.contactId)).data.map((e) => e.change)).toEqual(['opt_out']);
    expect(await replies(b.conversationId)).toEqual([]);

    const text = await api.call('PUT', '/v1/settings/opt-out', { token: org.token, body: { confirmationText: 'Listo, no le escribiremos más.' } });
    expect(text.body).toMatchObject({ keywords: ['baja', 'stop'], confirmationText: 'Listo, no le escribiremos más.' });
    const c = await writes(org, 'baja');
    expect((await replies(c.conversationId)).map((m) => m.content.text)).toEqual(['Listo, no le escribiremos más.']);

    // Another organization keeps the defaults.
    const other = await newOrg(api);
    const o = await writes(other, 'unsubscribe');
    expect((await ledger(other, o.contactId)).data.map((e) => e.change)).toEqual(['opt_out']);
  });

  it('refuses a keyword that is both opt-out and opt-in, and bodies that are not settings', async () => {
    const org = await newOrg(api);
    const overlap = await api.call('PUT', '/v1/settings/opt-out', { token: org.token, body: { optInKeywords: ['Stop'] } });
    expectProblem(overlap, 400, 'validation_error');
    expect(overlap.body.errors).toEqual([{ path: 'optInKeywords', message: expect.stringContaining('stop') }]);
    expectProblem(await api.call('PUT', '/v1/settings/opt-out', { token: org.token, body: { keywords: ['start'] } }), 400, 'validation_error');
    expectProblem(await api.call('PUT', '/v1/settings/opt-out', { token: org.token, body: { keywords: ['x', 'y'], optInKeywords: ['Y'] } }), 400, 'validation_error');
    expectProblem(await api.call('PUT', '/v1/settings/opt-out', { token: org.token, body: { keywords: [] } }), 400, 'validation_error');
    expectProblem(await api.call('PUT', '/v1/settings/opt-out', { token: org.token, body: { keywords: ['  '] } }), 400, 'validation_error');
    expectProblem(await api.call('PUT', '/v1/settings/opt-out', { token: org.token, body: { language: 'es' } }), 400, 'validation_error');
    expect((await api.call('GET', '/v1/settings/opt-out', { token: org.token })).body).toEqual(DEFAULT_OPT_OUT);
  });

  it('is for admins only', async () => {
    const org = await newOrg(api);
    const agent = await newUser(api, org.tenant, 'agent');
    const partner = await installApp(api, org.tenant, org.tenant, { grant: ['conversations:read', 'conversations:write', 'messages:write'] });
    for (const token of [agent.token, partner.accessToken]) {
      expectProblem(await api.call('PUT', '/v1/settings/opt-out', { token, body: { keywords: ['baja'] } }), 403, 'forbidden');
      expect((await api.call('GET', '/v1/settings/opt-out', { token })).status).toBe(200);
    }
    expect((await api.call('GET', '/v1/settings/opt-out', { token: org.token })).body.keywords).toEqual(DEFAULT_OPT_OUT.keywords);
  });
});

describe('PUT /v1/contacts/:id/consent', () => {
  it('records a change made outside WhatsApp, caused by the API, which the send rules then follow', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org);
    const w = await writes(org, 'Hola');
    const out = await api.call('PUT', `/v1/contacts/${w.contactId}/consent`, { token: org.token, body: { optedOut: true, note: 'Asked by phone' } });
    expect(out.status, out.text).toBe(200);
    expect(out.body).toEqual({
      contact: { id: w.contactId, phone: `+${w.from}`, optedOut: true, marketingOptedOut: false },
      data: [{ id: expect.any(String), change: 'opt_out', cause: 'api', detail: 'Asked by phone', at: expect.any(String) }],
      nextCursor: null,
    });
    expectProblem(await sendTemplate(org, w.conversationId), 422, 'contact_opted_out');
    // The same state again is no change.
    expect((await api.call('PUT', `/v1/contacts/${w.contactId}/consent`, { token: org.token, body: { optedOut: true } })).body.data).toHaveLength(1);

    const back = await api.call('PUT', `/v1/contacts/${w.contactId}/consent`, { token: org.token, body: { optedOut: false, note: 'Signed the paper form again' } });
    expect(back.status, back.text).toBe(200);
    expect(back.body.data.map((e: { change: string; cause: string }) => [e.change, e.cause])).toEqual([
      ['opt_in', 'api'],
      ['opt_out', 'api'],
    ]);
    expect((await sendTemplate(org, w.conversationId)).status).toBe(202);
    expect(await em().count(ConsentEvent, { contact: w.contactId }, UNSCOPED)).toBe(2);
    // API changes send no confirmation message.
    expect((await replies(w.conversationId)).map((m) => m.type)).toEqual(['template']);

    const reader = await installApp(api, org.tenant, org.tenant, { grant: ['conversations:read'] });
    expectProblem(await api.call('PUT', `/v1/contacts/${w.contactId}/consent`, { token: reader.accessToken, body: { optedOut: true } }), 403, 'forbidden');
    expect((await api.call('GET', `/v1/contacts/${w.contactId}/consent`, { token: reader.accessToken })).status).toBe(200);
    expectProblem(await api.call('PUT', `/v1/contacts/${w.contactId}/consent`, { token: org.token, body: { optedOut: 'yes' } }), 400, 'validation_error');
    expectProblem(await api.call('GET', '/v1/contacts/0190a5c8-0000-7000-8000-000000000000/consent', { token: org.token }), 404, 'not_found');
  });

  describe('who may opt a contact back in', () => {
    async function optedOutContact(org: Org): Promise<Written> {
      const w = await writes(org, 'STOP');
      expect((await ledger(org, w.contactId)).contact.optedOut).toBe(true);
      return w;
    }
    const optIn = (token: string, contactId: string, note?: string) =>
      api.call('PUT', `/v1/contacts/${contactId}/consent`, { token, body: { optedOut: false, ...(note === undefined ? {} : { note }) } });

    it('refuses a partner token with conversations:write, and the STOP stands', async () => {
      const org = await newOrg(api);
      const w = await optedOutContact(org);
      const partner = await installApp(api, org.tenant, org.tenant, { grant: ['conversations:read', 'conversations:write', 'messages:write'] });
      expectProblem(await optIn(partner.accessToken, w.contactId, 'The customer asked us to'), 403, 'forbidden');
      expectProblem(await optIn(partner.accessToken, w.contactId), 403, 'forbidden');
      const l = await ledger(org, w.contactId);
      expect(l.contact.optedOut).toBe(true);
      expect(l.data.map((e) => e.change)).toEqual(['opt_out']);
    });

    it('refuses an agent, even with a note', async () => {
      const org = await newOrg(api);
      const w = await optedOutContact(org);
      const agent = await newUser(api, org.tenant, 'agent');
      expectProblem(await optIn(agent.token, w.contactId, 'Said yes on the phone'), 403, 'forbidden');
      expect((await ledger(org, w.contactId)).contact.optedOut).toBe(true);
    });

    it('asks an admin for a note saying how consent was given', async () => {
      const org = await newOrg(api);
      const w = await optedOutContact(org);
      for (const note of [undefined, '', '   ']) {
        const res = await optIn(org.token, w.contactId, note);
        expectProblem(res, 400, 'validation_error');
        expect(res.body.errors).toEqual([{ path: 'note', message: expect.any(String) }]);
      }
      expect((await ledger(org, w.contactId)).contact.optedOut).toBe(true);
    });

    it('lets an admin with a note opt the contact back in, recording the note', async () => {
      const org = await newOrg(api);
      const w = await optedOutContact(org);
      const res = await optIn(org.token, w.contactId, 'Signed the consent form in store');
      expect(res.status, res.text).toBe(200);
      expect(res.body.contact.optedOut).toBe(false);
      expect(res.body.data[0]).toMatchObject({ change: 'opt_in', cause: 'api', detail: 'Signed the consent form in store' });
    });

    it('leaves opting out open to a partner token with conversations:write', async () => {
      const org = await newOrg(api);
      const w = await writes(org, 'Hola');
      const partner = await installApp(api, org.tenant, org.tenant, { grant: ['conversations:read', 'conversations:write'] });
      const res = await api.call('PUT', `/v1/contacts/${w.contactId}/consent`, { token: partner.accessToken, body: { optedOut: true } });
      expect(res.status, res.text).toBe(200);
      expect(res.body.contact.optedOut).toBe(true);
      expect(res.body.data).toEqual([expect.objectContaining({ change: 'opt_out', cause: 'api', detail: 'installation' })]);
    });
  });
});
