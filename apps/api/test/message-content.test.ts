import { MESSAGE_TYPES } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { envelope, inbound, wamid } from '../../../test/fixtures/meta';
import { message } from '../src/routes/conversations';
import { newOrg, newPhone, type Org, postSigned } from './messaging-support';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

/** A message as the API answers it is exactly what the OpenAPI document describes: valid, nothing undeclared. */
function expectDescribed(m: unknown): void {
  const result = message.safeParse(m);
  expect(result.success, `${JSON.stringify(m)}\n${JSON.stringify(result.error?.issues)}`).toBe(true);
  expect(result.data).toEqual(m);
}

async function messagesOf(org: Org, conversationId: string): Promise<Record<string, unknown>[]> {
  const res = await api.call('GET', `/v1/conversations/${conversationId}/messages?limit=200`, { token: org.token });
  expect(res.status, res.text).toBe(200);
  return res.body.data as Record<string, unknown>[];
}

// One of each kind a contact sends, with the extras Meta puts beside them.
const KINDS: Record<string, unknown>[] = [
  {
    type: 'text',
    text: { body: 'Vi su anuncio 🚚' },
    context: { from: '15550001111', id: 'wamid.PREVIOUS', forwarded: true, referred_product: { catalog_id: 'C1', product_retailer_id: 'SKU-1' } },
    referral: { source_url: 'https://fb.me/x', source_id: '123', source_type: 'ad', headline: 'Envíos', ctwa_clid: 'CLID-1', welcome_message: { text: '¡Hola!' } },
  },
  { type: 'image', image: { id: '111', mime_type: 'image/jpeg', sha256: 'abc=', caption: 'Recibo', url: 'https://lookaside.fbsbx.com/x' }, errors: [{ code: 131052, title: 'Media download error' }] },
  { type: 'sticker', sticker: { id: '222', mime_type: 'image/webp', animated: true } },
  { type: 'location', location: { latitude: 'LOCATION_LATITUDE', longitude: 'LOCATION_LONGITUDE', name: 'Bodega' } },
  { type: 'contacts', contacts: [{ name: { formatted_name: 'Luis Gómez' }, phones: [{ phone: '+50255551234', wa_id: '50255551234' }] }] },
  { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'row-2', title: 'Envío', description: 'Estado' } } },
  { type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: '{"flow_token":"T","rating":"5"}' } } },
  { type: 'interactive', interactive: { type: 'call_permission_reply', call_permission_reply: { response: 'accept', expiration_timestamp: 1753186982 } } },
  { type: 'button', button: { text: 'Sí', payload: 'YES' } },
  { type: 'reaction', reaction: { message_id: 'wamid.SOMETHING', emoji: '' } },
  { type: 'order', order: { catalog_id: 'C1', text: 'Para hoy', product_items: [{ product_retailer_id: 'SKU-1', quantity: 2, item_price: 9.5, currency: 'GTQ' }] } },
  { type: 'poll', poll: { question: '¿Pizza?' }, errors: [{ code: 131051, title: 'Message type unknown' }] },
];

describe('message content in the API matches the OpenAPI description', () => {
  it('for every inbound kind, an edited message with its history, a deleted one and a number change', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    const ids: string[] = [];
    for (const body of KINDS) {
      const { payload, id } = inbound(org.route, from, body);
      ids.push(id);
      await postSigned(api, payload);
    }
    const ts = String(Math.floor(Date.now() / 1000));
    await postSigned(api, envelope(org.route, { messages: [{ from, id: wamid(), timestamp: ts, type: 'edit', edit: { original_message_id: ids[0], message: { type: 'text', text: { body: 'Vi su anuncio' } } } }] }));
    await postSigned(api, envelope(org.route, { messages: [{ from, id: wamid(), timestamp: ts, type: 'revoke', revoke: { original_message_id: ids[1] } }] }));
    const changed = newPhone();
    await postSigned(api, envelope(org.route, { messages: [{ from, id: wamid(), timestamp: ts, type: 'system', system: { type: 'user_changed_number', body: `changed to ${changed}`, wa_id: changed } }] }));
    await api.app.services.metaProcessor.settle();

    const conversations = await api.call('GET', '/v1/conversations', { token: org.token });
    const conversationId = (conversations.body.data as { id: string }[])[0]!.id;
    const messages = await messagesOf(org, conversationId);
    const types = new Set(messages.map((m) => m.type));
    for (const type of ['text', 'image', 'sticker', 'location', 'contacts', 'interactive', 'button', 'reaction', 'order', 'unsupported', 'system']) expect(types).toContain(type);
    expect(messages.length).toBeGreaterThanOrEqual(KINDS.length);
    for (const m of messages) expectDescribed(m);

    const byWamid = new Map(messages.map((m) => [m.wamid, m]));
    expect(byWamid.get(ids[0])).toMatchObject({
      content: { text: 'Vi su anuncio' },
      history: [{ type: 'text', content: { text: 'Vi su anuncio 🚚', referral: { ctwaClid: 'CLID-1' }, context: { messageId: 'wamid.PREVIOUS', forwarded: true } } }],
    });
    expect(byWamid.get(ids[1])).toMatchObject({ type: 'image', content: {} });
    expect(byWamid.get(ids[3])).toMatchObject({ content: { location: { latitude: null, longitude: null, name: 'Bodega' } } });
  });

  it('for what the business sends (text, location, interactive)', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    const { payload } = inbound(org.route, from, { type: 'text', text: { body: 'Hola' } });
    await postSigned(api, payload);
    await api.app.services.metaProcessor.settle();
    const conversations = await api.call('GET', '/v1/conversations', { token: org.token });
    const conversationId = (conversations.body.data as { id: string }[])[0]!.id;
    const sends = [
      { type: 'text', text: 'Con gusto', previewUrl: true },
      { type: 'location', location: { latitude: 14.6, longitude: -90.5, name: 'Tienda' } },
      { type: 'image', image: { link: 'https://example.com/a.png', caption: 'Catálogo' } },
      { type: 'interactive', interactive: { type: 'button', body: { text: '¿Confirmas?' }, action: { buttons: [{ type: 'reply', reply: { id: 'y', title: 'Sí' } }] } } },
    ];
    for (const body of sends) {
      const res = await api.call('POST', `/v1/conversations/${conversationId}/messages`, { token: org.token, body });
      expect(res.status, res.text).toBe(202);
      expectDescribed(res.body);
    }
    for (const m of await messagesOf(org, conversationId)) expectDescribed(m);
  });
});

describe('the OpenAPI document', () => {
  it('describes content once, as the MessageContent component, with one variant per type, and every reference resolves', async () => {
    const res = await api.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as { components: { schemas: Record<string, { oneOf?: { properties: { type: { const: string } } }[] }> }; paths: Record<string, unknown> };
    const content = doc.components.schemas.MessageContent;
    expect(content?.oneOf?.map((v) => v.properties.type.const).sort()).toEqual([...MESSAGE_TYPES].sort());

    // A message is the Message component (shared with partners' events), whose content is MessageContent.
    const listMessages = JSON.stringify((doc.paths['/v1/conversations/{id}/messages'] as { get: unknown }).get);
    expect(listMessages).toContain('"$ref":"#/components/schemas/Message"');
    expect(JSON.stringify(doc.components.schemas.Message)).toContain('"$ref":"#/components/schemas/MessageContent"');
    // Described once, not copied into every operation and every variant.
    expect(JSON.stringify(doc).split('"ctwaClid"').length - 1).toBe(1);
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.slice('#/components/schemas/'.length)], ref).toBeDefined();
    }
  });
});
