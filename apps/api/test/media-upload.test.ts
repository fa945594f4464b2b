import { createTenant } from '../../../test/support/api';
import { eventually, onboardChannel, startTestPlatform, type TestPlatform } from '../../../test/support/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from './helpers';
import { contactWrites, conversationOf, newPhone } from './messaging-support';

/*
 * Files an agent (or a partner) sends from their own disk: uploaded through Parley to the
 * number's media at Meta (the sandbox Graph API here, which keeps the bytes), then sent by id.
 */

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform();
});
afterAll(async () => p.close());

// A real 1×1 PNG: the bytes must arrive at Meta exactly as uploaded.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

describe('POST /v1/channels/:id/media', () => {
  it('uploads a file to the number at Meta; sent by its id, the contact gets those bytes, which the inbox reads back', async () => {
    const { tenant, route, channelId } = await onboardChannel(p);
    p.sendOutboundFor(tenant.organizationId);
    const from = newPhone();
    await contactWrites(p.api, route, from);
    const conversation = await conversationOf(p.api, tenant.adminToken, from);

    const uploaded = await p.api.call('POST', `/v1/channels/${channelId}/media?filename=receipt.png`, { token: tenant.adminToken, raw: PNG, headers: { 'content-type': 'image/png' } });
    expect(uploaded.status, uploaded.text).toBe(201);
    expect(uploaded.body).toEqual({ id: expect.any(String), kind: 'image', mimeType: 'image/png', size: PNG.length, filename: 'receipt.png' });
    // Meta's media endpoint got a multipart upload of these bytes, for this number.
    const [request] = p.sandbox.requests({ operation: 'media_upload' }).filter((r) => r.path.includes(route.phoneNumberId));
    expect(request?.body).toMatchObject({ parts: expect.arrayContaining([expect.objectContaining({ name: 'file', filename: 'receipt.png', contentType: 'image/png', size: PNG.length })]) });

    const sent = await p.api.call('POST', `/v1/conversations/${conversation.id}/messages`, { token: tenant.adminToken, body: { type: 'image', image: { id: uploaded.body.id, caption: 'Your receipt' } } });
    expect(sent.status, sent.text).toBe(202);
    const send = await eventually(async () => p.sandbox.sends({ phoneNumberId: route.phoneNumberId }).find((s) => s.type === 'image'), 10_000, 'the image at the sandbox');
    expect(send.payload).toMatchObject({ type: 'image', image: { id: uploaded.body.id, caption: 'Your receipt' } });
    const media = await fetch(`${p.api.url}/v1/conversations/${conversation.id}/messages/${sent.body.id}/media`, { headers: { authorization: `Bearer ${tenant.adminToken}` } });
    expect(media.status).toBe(200);
    expect(media.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await media.arrayBuffer())).toEqual(PNG);
  });

  it('refuses a type WhatsApp does not send (415, with the supported ones) and a file over its kind’s size (413); nothing reaches Meta', async () => {
    const { tenant, channelId } = await onboardChannel(p);
    const before = p.sandbox.requests({ operation: 'media_upload' }).length;
    const exe = await p.api.call('POST', `/v1/channels/${channelId}/media`, { token: tenant.adminToken, raw: Buffer.from('MZ\x90\x00'), headers: { 'content-type': 'application/x-msdownload' } });
    expectProblem(exe, 415, 'unsupported_media_type');
    expect(exe.body.supported).toContain('image/jpeg');
    const none = await p.api.call('POST', `/v1/channels/${channelId}/media`, { token: tenant.adminToken, raw: PNG });
    expect(none.status).toBe(415);
    // An image may be 5 MB; this one is a byte over.
    const big = await p.api.call('POST', `/v1/channels/${channelId}/media`, { token: tenant.adminToken, raw: Buffer.alloc(5 * 1024 * 1024 + 1), headers: { 'content-type': 'image/jpeg' } });
    expectProblem(big, 413, 'payload_too_large');
    // Past the route's own cap, whatever the type: refused from Content-Length, unread.
    const huge = await p.api.call('POST', `/v1/channels/${channelId}/media`, { token: tenant.adminToken, raw: Buffer.alloc(16 * 1024 * 1024 + 1), headers: { 'content-type': 'video/mp4' } });
    expectProblem(huge, 413, 'payload_too_large');
    const empty = await p.api.call('POST', `/v1/channels/${channelId}/media`, { token: tenant.adminToken, raw: Buffer.alloc(0), headers: { 'content-type': 'application/pdf' } });
    expect(empty.status).toBe(400);
    expect(p.sandbox.requests({ operation: 'media_upload' }).length).toBe(before);
  });

  it('takes a document with its type parameters and name; needs a token, and another organization’s channel is not found', async () => {
    const { tenant, channelId } = await onboardChannel(p);
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
    const doc = await p.api.call('POST', `/v1/channels/${channelId}/media?filename=${encodeURIComponent('Factura 12.pdf')}`, {
      token: tenant.adminToken,
      raw: pdf,
      headers: { 'content-type': 'application/pdf; charset=binary' },
    });
    expect(doc.status, doc.text).toBe(201);
    expect(doc.body).toMatchObject({ kind: 'document', mimeType: 'application/pdf', filename: 'Factura 12.pdf', size: pdf.length });
    expect((await p.api.call('POST', `/v1/channels/${channelId}/media`, { raw: PNG, headers: { 'content-type': 'image/png' } })).status).toBe(401);
    const stranger = await createTenant(p.api);
    const theirs = await p.api.call('POST', `/v1/channels/${channelId}/media`, { token: stranger.adminToken, raw: PNG, headers: { 'content-type': 'image/png' } });
    expectProblem(theirs, 404, 'not_found');
  });
});
