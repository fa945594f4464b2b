import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGE_BODIES } from '../../../test/fixtures/meta';
import { eventually } from '../../../test/support/platform';
import {
  apply,
  buttonReply,
  type Contact,
  contactSends,
  conversationView,
  draft,
  listReply,
  newContact,
  outboundOf,
  routingOrg,
  type RoutingHarness,
  type RoutingOrg,
  sendToSandbox,
  sessionWorkflowCompletes,
  startRoutingHarness,
  startTestBot,
  type TestBot,
  text,
  treeOn,
  waitDestination,
  waitOutbound,
} from './routing-runtime-support';

let h: RoutingHarness;
let bot: TestBot;
let org: RoutingOrg;
const q: Record<string, string> = {};
let menuTree: string;
let dataTree: string;
let timeoutTree: string;
const choiceTrees: Record<number, string> = {};
let versionId: string;

const choices = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `c${i + 1}`, title: `Choice ${i + 1}`, target: { kind: 'queue', id: q.sales } }));

beforeAll(async () => {
  h = await startRoutingHarness();
  bot = await startTestBot();
  bot.handle = (req, res) => {
    if (req.path.startsWith('/customers')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tier: 'gold', name: 'Ana' }));
    } else res.writeHead(404).end();
  };
  org = await routingOrg(h);
  for (const name of ['sales', 'support', 'orders', 'late']) q[name] = await draft(h, org, 'queues', { name });
  menuTree = await draft(h, org, 'decision-trees', {
    name: 'Menu',
    tree: {
      defaultLanguage: 'en',
      languages: ['es'],
      start: 'welcome',
      decisions: [
        { id: 'welcome', actions: [{ type: 'send_message', text: { en: 'Hi {{contact.name | there}}!', es: '¡Hola {{contact.name | amigo}}!' } }], next: { type: 'immediate', target: 'menu' } },
        {
          id: 'menu',
          next: {
            type: 'answer',
            question: { en: 'How can we help?', es: '¿En qué podemos ayudar?' },
            choices: [
              { id: 'sales', title: { en: 'Sales', es: 'Ventas' }, similar: ['purchase'], target: { kind: 'queue', id: q.sales } },
              { id: 'support', title: 'Support', target: { kind: 'queue', id: q.support } },
              { id: 'order', pattern: '^#?\\d{6}$', target: { kind: 'queue', id: q.orders } },
            ],
            default: 'other',
            saveAs: 'firstAnswer',
          },
        },
        { id: 'other', actions: [{ type: 'send_message', text: 'Sorry, we did not get "{{data.firstAnswer}}".' }], next: { type: 'immediate', target: { kind: 'terminate' } } },
      ],
    },
  });
  dataTree = await draft(h, org, 'decision-trees', {
    name: 'Data',
    tree: {
      defaultLanguage: 'en',
      start: 'lookup',
      decisions: [
        {
          id: 'lookup',
          actions: [
            { type: 'request_data', variable: 'customer', url: `${bot.url}/customers?phone={{contact.phone}}`, method: 'GET', timeoutMs: 2000 },
            { type: 'save_data', key: 'tier', value: '{{data.customer.tier | none}}' },
            { type: 'send_message', text: 'Your tier is {{data.tier}}, {{data.customer.name | friend}}.' },
            { type: 'create_ticket', subject: 'Support for {{contact.phone}}' },
          ],
          next: { type: 'immediate', target: { kind: 'queue', id: q.support } },
        },
      ],
    },
  });
  timeoutTree = await draft(h, org, 'decision-trees', {
    name: 'Timeout',
    tree: {
      defaultLanguage: 'en',
      start: 'ask',
      decisions: [
        {
          id: 'ask',
          next: {
            type: 'answer',
            question: 'Anything else?',
            choices: [{ id: 'yes', title: 'Yes', target: { kind: 'queue', id: q.sales } }],
            default: { kind: 'queue', id: q.sales },
            timeout: { seconds: 60, target: { kind: 'queue', id: q.late } },
          },
        },
      ],
    },
  });
  for (const n of [2, 5, 12]) {
    choiceTrees[n] = await draft(h, org, 'decision-trees', {
      name: `Choices ${n}`,
      tree: { defaultLanguage: 'en', start: 'pick', decisions: [{ id: 'pick', next: { type: 'answer', question: 'Pick one', choices: choices(n), default: { kind: 'terminate' } } }] },
    });
  }
  versionId = await apply(h, org);
});

afterAll(async () => {
  await bot?.close();
  await h?.close();
});

/** A contact starts the menu tree and sees the greeting and the question. */
async function atMenu(first = 'Hello there'): Promise<Contact> {
  const contact = await newContact(h, org, first);
  await treeOn(h, org, contact, menuTree, versionId);
  await waitOutbound(h, org, contact.conversationId, 2);
  return contact;
}

describe('decision trees at runtime', () => {
  it('greets, asks with reply buttons, and routes each kind of answer', async () => {
    const cases: { answer: Record<string, unknown>; queue: string | null; reason: string }[] = [
      { answer: buttonReply('menu/sales', 'Sales'), queue: q.sales!, reason: 'reply_id' },
      { answer: text('support'), queue: q.support!, reason: 'title' },
      // A template's quick-reply button carries the bare choice id as its payload.
      { answer: { type: 'button', button: { payload: 'support', text: 'Support' } }, queue: q.support!, reason: 'reply_id' },
      { answer: text('2'), queue: q.support!, reason: 'number' },
      { answer: text('#123456'), queue: q.orders!, reason: 'pattern' },
      { answer: text('I want to purchse something'), queue: q.sales!, reason: 'similar' },
      { answer: text('blah blah'), queue: null, reason: 'no_match' },
    ];
    const contacts = [];
    for (const _ of cases) contacts.push(await atMenu());
    const [greeting, question] = await outboundOf(h, org, contacts[0]!.conversationId);
    expect(greeting!.content.text).toBe('Hi Ana Pérez!');
    expect(greeting!.role).toBe('bot');
    expect(question!.type).toBe('interactive');
    expect(question!.content.interactive).toMatchObject({
      type: 'button',
      body: { text: 'How can we help?' },
      action: { buttons: [{ reply: { id: 'menu/sales', title: 'Sales' } }, { reply: { id: 'menu/support', title: 'Support' } }] },
    });
    for (const [i, c] of cases.entries()) await contactSends(h, org, contacts[i]!.from, c.answer);
    for (const [i, c] of cases.entries()) {
      const d = await waitDestination(h, contacts[i]!.conversationId);
      expect(d.destination, JSON.stringify(c.answer)).toEqual(c.queue ? { kind: 'queue', id: c.queue } : { kind: 'terminate' });
      expect(d.versionId).toBe(versionId);
      expect(d.path.find((p) => p.kind === 'decision' && p.decisionId === 'menu')).toMatchObject({ answer: { reason: c.reason } });
    }
    // The default branch tells what it did not understand: the answer was saved as data.
    const other = await outboundOf(h, org, contacts.at(-1)!.conversationId);
    expect(other.at(-1)!.content.text).toBe('Sorry, we did not get "blah blah".');
  });

  it('speaks the contact’s language, and a message that says nothing leaves the question waiting', async () => {
    const contact = await atMenu('Hola, ¿tienen envío?');
    const [greeting, question] = await outboundOf(h, org, contact.conversationId);
    expect(greeting!.content.text).toBe('¡Hola Ana Pérez!');
    expect(question!.content.interactive).toMatchObject({ body: { text: '¿En qué podemos ayudar?' }, action: { buttons: [{ reply: { title: 'Ventas' } }, {}] } });
    await contactSends(h, org, contact.from, MESSAGE_BODIES.sticker!);
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.destinations.find((d) => d.conversationId === contact.conversationId)).toBeUndefined();
    await contactSends(h, org, contact.from, text('ventas'));
    expect((await waitDestination(h, contact.conversationId)).destination).toEqual({ kind: 'queue', id: q.sales });
  });

  it('renders 2, 5 and 12 choices as buttons, a list and numbered text, which the Graph API accepts', async () => {
    const shapes: Record<number, unknown> = {};
    for (const n of [2, 5, 12]) {
      const contact = await newContact(h, org);
      await treeOn(h, org, contact, choiceTrees[n]!, versionId);
      const [question] = await waitOutbound(h, org, contact.conversationId, 1);
      shapes[n] = question!.type === 'interactive' ? (question!.content.interactive as { type: string }).type : question!.type;
      if (n === 5) {
        expect((question!.content.interactive as { action: { sections: { rows: unknown[] }[] } }).action.sections[0]!.rows).toHaveLength(5);
      }
      if (n === 12) expect(question!.content.text).toContain('12. Choice 12');
      expect((await sendToSandbox(h, org, contact, question!)).wamid).toMatch(/^wamid\./);
      // A list row answers as well as a typed number.
      await contactSends(h, org, contact.from, n === 5 ? listReply('pick/c3', 'Choice 3') : text(`${n}`));
      expect((await waitDestination(h, contact.conversationId)).path[0]).toMatchObject({ decisionId: 'pick', answer: { choiceId: n === 5 ? 'c3' : `c${n}` } });
    }
    expect(shapes).toEqual({ 2: 'button', 5: 'list', 12: 'text' });
  });

  it('requests data from a URL into a variable a later message uses, saves data, and links the ticket as the request', async () => {
    const contact = await newContact(h, org);
    await treeOn(h, org, contact, dataTree, versionId);
    const d = await waitDestination(h, contact.conversationId);
    expect(d.destination).toEqual({ kind: 'queue', id: q.support });
    const [message] = await outboundOf(h, org, contact.conversationId);
    expect(message!.content.text).toBe('Your tier is gold, Ana.');
    const request = bot.requests.find((r) => r.path.startsWith('/customers') && r.path.includes(contact.from));
    expect(request!.path).toBe(`/customers?phone=%2B${contact.from}`);
    const view = await conversationView(h, org, contact.conversationId);
    expect(view.body.requestId).toMatch(/^TKT-[0-9A-F]{12}$/);
    const [row] = await h.api.orm.em.fork().getConnection().execute<{ routing_data: Record<string, unknown> }[]>('select routing_data from conversations where id = ?', [contact.conversationId]);
    expect(row!.routing_data).toMatchObject({ tier: 'gold', customer: { tier: 'gold', name: 'Ana' } });
  });

  it('resumes where the contact is after the worker restarts, sending nothing twice', async () => {
    const contact = await atMenu();
    await h.stopWorker();
    try {
      await contactSends(h, org, contact.from, text('Support'));
      // The signaller hands the answer to Temporal while no worker runs.
      await eventually(async () => {
        const rows = await h.api.orm.em.fork().getConnection().execute('select 1 from routing_pending where conversation_id = ?', [contact.conversationId]);
        return rows.length === 0;
      }, 10_000, 'the answer handed to the workflow');
      expect(h.destinations.find((d) => d.conversationId === contact.conversationId)).toBeUndefined();
    } finally {
      await h.startWorker();
    }
    expect((await waitDestination(h, contact.conversationId)).destination).toEqual({ kind: 'queue', id: q.support });
    expect(await outboundOf(h, org, contact.conversationId)).toHaveLength(2);
  });

  it('a person taking the conversation over ends the tree’s session, and its workflow stops waiting for the answer', async () => {
    const contact = await atMenu();
    const me = await h.api.call('GET', '/v1/me', { token: org.token });
    const assigned = await h.api.call('PUT', `/v1/conversations/${contact.conversationId}/assign`, { token: org.token, body: { userId: me.body.userId } });
    expect(assigned.status, assigned.text).toBe(200);
    expect(await sessionWorkflowCompletes(h, contact.conversationId)).toEqual({ endedReason: 'assigned', result: 'ended' });
    // The contact's answer now goes to the person: the tree neither asks again nor routes it.
    await contactSends(h, org, contact.from, text('sales'));
    await new Promise((r) => setTimeout(r, 500));
    expect(h.destinations.find((d) => d.conversationId === contact.conversationId)).toBeUndefined();
    expect(await outboundOf(h, org, contact.conversationId)).toHaveLength(2);
  });

  it('a session on a tree its version lacks ends, and the contact’s messages wait for nobody', async () => {
    const contact = await newContact(h, org);
    await treeOn(h, org, contact, 'no-such-tree', versionId);
    const db = h.api.orm.em.fork().getConnection();
    const session = await eventually(async () => {
      const [row] = await db.execute<{ state: string; ended_reason: string | null }[]>('select state, ended_reason from routing_sessions where conversation_id = ?', [contact.conversationId]);
      return row?.state === 'ended' ? row : undefined;
    }, 10_000, 'the session to end');
    expect(session.ended_reason).toBe('tree_missing');
    await contactSends(h, org, contact.from, text('Hello?'));
    expect(await db.execute('select 1 from routing_pending where conversation_id = ? and message_id is not null', [contact.conversationId])).toHaveLength(0);
    expect(await outboundOf(h, org, contact.conversationId)).toHaveLength(0);
  });

  it('end to end: a channel routed to a tree, the dispatcher starts it, the answer puts the chat in a queue', async () => {
    const own = await routingOrg(h);
    const sales = await draft(h, own, 'queues', { name: 'Sales' });
    const tree = await draft(h, own, 'decision-trees', {
      name: 'Front door',
      tree: {
        defaultLanguage: 'en',
        start: 'menu',
        decisions: [{ id: 'menu', next: { type: 'answer', question: 'Sales or support?', choices: [{ id: 'sales', title: 'Sales', target: { kind: 'queue', id: sales } }], default: 'menu' } }],
      },
    });
    const routed = await h.api.call('PUT', `/v1/routing/draft/channels/${own.channelId}`, { token: own.token, body: { first: { kind: 'decision_tree', id: tree }, attachments: 'both' } });
    expect(routed.status, routed.text).toBe(200);
    await apply(h, own);
    const contact = await newContact(h, own, 'Hi, I need help');
    await h.runner.settle();
    const [question] = await waitOutbound(h, own, contact.conversationId, 1);
    expect(question!.content.interactive).toMatchObject({ type: 'button', action: { buttons: [{ reply: { id: 'menu/sales', title: 'Sales' } }] } });
    expect((await sendToSandbox(h, own, contact, question!)).wamid).toMatch(/^wamid\./);
    await contactSends(h, own, contact.from, buttonReply('menu/sales', 'Sales'));
    await h.runner.settle();
    expect((await waitDestination(h, contact.conversationId)).destination).toEqual({ kind: 'queue', id: sales });
    const waiting = await eventually(async () => {
      const res = await h.api.call('GET', `/v1/queues/waiting?queueId=${sales}`, { token: own.token });
      return (res.body.data as { conversationId: string }[]).find((w) => w.conversationId === contact.conversationId);
    }, 10_000, 'the conversation waiting in the queue');
    expect(waiting).toMatchObject({ queueId: sales, position: 1 });
  });

  it('takes the timeout target when the question stays unanswered', { timeout: 90_000 }, async () => {
    const contact = await newContact(h, org);
    await treeOn(h, org, contact, timeoutTree, versionId);
    await waitOutbound(h, org, contact.conversationId, 1);
    const d = await waitDestination(h, contact.conversationId, 80_000);
    expect(d.destination).toEqual({ kind: 'queue', id: q.late });
    expect(d.path).toEqual([{ kind: 'timeout', treeId: timeoutTree, decisionId: 'ask' }]);
  });
});
