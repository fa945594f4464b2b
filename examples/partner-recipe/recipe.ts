import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEventRouter, createParleyClient, nodeWebhookHandler, type ParleyClient, type ParleyEvent } from '@parley/sdk';

/**
 * The integration guide's recipe: a partner app, hired by a tenant, that upserts a contact
 * conversation (contact fields plus a template message) and logs the contact's WhatsApp replies,
 * which reach it as signed webhooks.
 */
export interface RecipeOptions {
  /** The platform's URL. */
  baseUrl: string;
  /** The installation's token pair (`POST /v1/installations/:id/tokens`). */
  accessToken: string;
  refreshToken: string;
  /** Where this app listens for webhooks, and the URL the platform reaches it at. */
  listen: { host: string; port: number };
  publicUrl?: string;
  contact: { name: string; telephone: string };
  /** Contact fields, as `.name value` field messages. */
  fields: Record<string, string>;
  template: { name: string; language: string; params: Record<string, string> };
  log: (line: string) => void;
}

export interface RunningRecipe {
  client: ParleyClient;
  subscriptionId: string;
  conversationId: string;
  receiverUrl: string;
  stop(): Promise<void>;
}

type ContactMessage = ParleyEvent<'message.create.contact.chat.contact'>;

export async function runRecipe(o: RecipeOptions): Promise<RunningRecipe> {
  const client = createParleyClient({
    baseUrl: o.baseUrl,
    accessToken: o.accessToken,
    refreshToken: o.refreshToken,
    onRefresh: () => o.log('tokens refreshed'),
  });

  // 1. The receiver runs before subscribing: the platform verifies the URL with a GET challenge,
  //    which the SDK's handler answers. The secret comes with the subscription, hence a getter.
  let secret: string | undefined;
  const router = createEventRouter().on('message.create.contact.chat.contact', { touchpoint: 'whatsapp' }, (event) => {
    o.log(describeReply(event));
  });
  const handle = nodeWebhookHandler({ secret: () => secret, router, onError: (err) => o.log(`webhook refused: ${err instanceof Error ? err.message : String(err)}`) });
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listen.port, o.listen.host, resolve);
  });
  const address = server.address() as AddressInfo;
  const receiverUrl = o.publicUrl ?? `http://${o.listen.host}:${address.port}/parley`;

  try {
    // 2. Subscribe to the contact's messages. A secret is shown only once, so an earlier
    //    subscription of this URL (from a previous run) is replaced rather than reused.
    const existing = await client.GET('/v1/webhooks', { params: { query: { limit: 200 } } });
    for (const sub of existing.data?.data ?? []) {
      if (sub.url === receiverUrl) await client.DELETE('/v1/webhooks/{id}', { params: { path: { id: sub.id } } });
    }
    const subscribed = await client.POST('/v1/webhooks', {
      params: { header: { 'Idempotency-Key': crypto.randomUUID() } },
      body: { url: receiverUrl, events: ['message.create.contact.chat.contact'], filter: { touchpoint: 'whatsapp' }, description: 'partner recipe: contact replies' },
    });
    if (!subscribed.data) throw new Error(`subscribing failed: ${subscribed.response.status} ${JSON.stringify(subscribed.error)}`);
    secret = subscribed.data.secret;
    o.log(`subscribed ${subscribed.data.id} at ${receiverUrl}`);

    // 3. Upsert the contact's conversation: set its fields and send the template.
    const upserted = await client.POST('/v1/conversations', {
      params: { header: { 'Idempotency-Key': crypto.randomUUID() } },
      body: {
        type: 'contact',
        contact: { profile: { name: o.contact.name, telephone: o.contact.telephone } },
        messages: [
          ...Object.entries(o.fields).map(([name, value]) => ({ type: 'field' as const, text: `.${name} ${value}` })),
          { type: 'chat', role: 'agent', touchpoint: 'whatsapp', text: o.template.name, meta: { template: o.template.name, language: o.template.language, ...o.template.params } },
        ],
      },
    });
    if (!upserted.data) throw new Error(`upserting the conversation failed: ${upserted.response.status} ${JSON.stringify(upserted.error)}`);
    const conversation = upserted.data;
    const fields = Object.entries(conversation.contact.fields).map(([name, value]) => `${name}=${value}`);
    o.log(`contact ${conversation.contact.phone ?? conversation.contact.id} has fields ${fields.join(', ')}`);
    o.log(`conversation ${conversation.id} ${upserted.response.status === 201 ? 'created' : 'updated'}; template ${o.template.name} ${conversation.messages.map((m) => m.status).join(', ')}`);

    return {
      client,
      subscriptionId: subscribed.data.id,
      conversationId: conversation.id,
      receiverUrl,
      stop: async () => {
        await close(server);
      },
    };
  } catch (err) {
    await close(server);
    throw err;
  }
}

function describeReply(event: ContactMessage): string {
  const { message, contact } = event.data;
  const content = message.content as { text?: unknown };
  const text = typeof content.text === 'string' ? content.text : `[${message.type}]`;
  return `reply from ${contact.phone ?? '?'}${contact.name ? ` (${contact.name})` : ''} in conversation ${message.conversationId}: ${text}`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
