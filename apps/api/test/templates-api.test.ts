import { Template } from '@parley/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startTestApi, type Tenant, type TestApi } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

/** A tenant with one channel and Meta-shaped templates, as a sync leaves them. */
async function setup(): Promise<{ tenant: Tenant; channelId: string }> {
  const tenant = await createTenant(api);
  const channel = await insertChannel(api, tenant.organizationId);
  const em = api.orm.em.fork();
  em.persist(
    new Template(tenant.organizationId, channel.id, '101', 'order_update', 'en_US', 'APPROVED', 'UTILITY', 'POSITIONAL', [
      { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}', example: { header_text: ['A-1'] } },
      { type: 'BODY', text: 'Hi {{1}}, your order ships on {{2}}.', example: { body_text: [['Ana', 'Monday']] } },
      { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Track', url: 'https://shop.example/track/{{1}}', example: ['https://shop.example/track/A-1'] }] },
    ]),
  );
  em.persist(new Template(tenant.organizationId, channel.id, '102', 'promo', 'es', 'PAUSED', 'MARKETING', 'POSITIONAL', [{ type: 'BODY', text: 'Oferta' }]));
  await em.flush();
  return { tenant, channelId: channel.id };
}

describe('POST /v1/templates/validate', () => {
  it('answers the rendered components per recipient, placeholders filled from each recipient then defaults', async () => {
    const { tenant } = await setup();
    const res = await api.call('POST', '/v1/templates/validate', {
      token: tenant.adminToken,
      body: {
        template: {
          name: 'order_update',
          language: 'en_US',
          components: [
            { type: 'header', parameters: [{ type: 'text', text: '{{ order }}' }] },
            { type: 'body', parameters: [{ type: 'text', text: '{{ name }}' }, { type: 'text', text: '{{ day }}' }] },
            { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: '{{ order }}' }] },
          ],
        },
        params: { day: 'Monday' },
        recipients: [{ params: { name: 'Ana', order: 'A-1' } }, { params: { name: 'Luis', order: 'B-2', day: 'Friday' } }],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.valid).toBe(true);
    const [first, second] = res.body.components;
    expect(first[1].parameters.map((p: { text: string }) => p.text)).toEqual(['Ana', 'Monday']);
    expect(second[1].parameters.map((p: { text: string }) => p.text)).toEqual(['Luis', 'Friday']);
    expect(second[2].parameters[0].text).toBe('B-2');
  });

  it('lists every problem by path: wrong body count, bad button index, a placeholder without value', async () => {
    const { tenant } = await setup();
    const res = await api.call('POST', '/v1/templates/validate', {
      token: tenant.adminToken,
      body: {
        template: {
          name: 'order_update',
          language: 'en_US',
          components: [
            { type: 'header', parameters: [{ type: 'text', text: '{{ order }}' }] },
            { type: 'body', parameters: [{ type: 'text', text: 'Ana' }] },
            { type: 'button', sub_type: 'url', index: '3', parameters: [{ type: 'text', text: 'x' }] },
          ],
        },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('template_params_mismatch');
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths.some((p: string) => p.startsWith('template.components.0'))).toBe(true);
    expect(paths.some((p: string) => p.startsWith('template.components.1'))).toBe(true);
    expect(paths.some((p: string) => p.startsWith('template.components.2'))).toBe(true);
  });

  it('accepts the shorthand and refuses unknown templates, languages and unapproved ones', async () => {
    const { tenant } = await setup();
    const ok = await api.call('POST', '/v1/templates/validate', {
      token: tenant.adminToken,
      body: { template: { name: 'order_update', language: 'en_US' }, params: { header: 'A-1', '1': 'Ana', '2': 'Monday', 'button.0': 'A-1' } },
    });
    expect(ok.status).toBe(200);
    const missing = await api.call('POST', '/v1/templates/validate', {
      token: tenant.adminToken,
      body: { template: { name: 'order_update', language: 'en_US' }, params: { header: 'A-1', '1': 'Ana' } },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['params.2']));
    for (const template of [{ name: 'nope', language: 'en_US' }, { name: 'order_update', language: 'de' }]) {
      const res = await api.call('POST', '/v1/templates/validate', { token: tenant.adminToken, body: { template } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('template_not_found');
    }
    const paused = await api.call('POST', '/v1/templates/validate', { token: tenant.adminToken, body: { template: { name: 'promo', language: 'es' } } });
    expect(paused.status).toBe(400);
    expect(paused.body.code).toBe('template_params_mismatch');
  });

  it('is answered as not found for another organization’s channel', async () => {
    const { channelId } = await setup();
    const other = await createTenant(api);
    const res = await api.call('POST', '/v1/templates/validate', {
      token: other.adminToken,
      body: { channelId, template: { name: 'order_update', language: 'en_US' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('channelId');
  });
});

describe('template language in the conversation shorthand', () => {
  it('comes from the templates of the conversation’s channel only', async () => {
    const tenant = await createTenant(api);
    const spanish = await insertChannel(api, tenant.organizationId);
    const english = await insertChannel(api, tenant.organizationId);
    const em = api.orm.em.fork();
    em.persist(new Template(tenant.organizationId, spanish.id, '201', 'welcome', 'es', 'APPROVED', 'UTILITY', 'POSITIONAL', [{ type: 'BODY', text: 'Hola' }]));
    em.persist(new Template(tenant.organizationId, english.id, '202', 'welcome', 'en_US', 'APPROVED', 'UTILITY', 'POSITIONAL', [{ type: 'BODY', text: 'Hi' }]));
    await em.flush();
    const res = await api.call('POST', '/v1/conversations', {
      token: tenant.adminToken,
      body: {
        type: 'contact',
        channelId: spanish.id,
        contact: { profile: { telephone: '+50230001234' } },
        messages: [{ type: 'chat', role: 'agent', touchpoint: 'whatsapp', meta: { template: 'welcome' } }],
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.messages[0].content.template).toMatchObject({ name: 'welcome', language: 'es' });
  });
});
