import { ValidationError } from '@parley/core';
import { describe, expect, it } from 'vitest';
import { checkTemplate, fillTemplate, QUEUE_TEMPLATE_PLACEHOLDERS, TREE_PLACEHOLDERS } from '../src/routing/placeholders';
import {
  decisionTreeSchema,
  type DecisionTreeInput,
  immediateDestinations,
  parseTree,
  patternProblem,
  type TreeValidationContext,
  treeVariables,
  validateTree,
} from '../src/routing/tree';

const context: TreeValidationContext = {
  destinations: { queue: ['q_sales', 'q_support'], time_condition: ['tc_hours'], chatbot: ['bot_1'], terminate: ['t_bye'], decision_tree: ['tree_other'] },
};

/** A tree that uses every action and every kind of target, and is valid. */
function sampleTree(): DecisionTreeInput {
  return {
    defaultLanguage: 'en',
    languages: ['es', 'pt'],
    start: 'welcome',
    decisions: [
      {
        id: 'welcome',
        actions: [
          { type: 'send_message', text: { en: 'Hi {{contact.name | there}}!', es: '¡Hola {{contact.name}}!', pt: 'Olá {{contact.name}}!' } },
          { type: 'request_data', variable: 'customer', url: 'https://crm.example.com/customers?phone={{contact.phone}}', timeoutMs: 3000 },
          { type: 'save_data', key: 'tier', value: '{{data.customer.tier}}' },
        ],
        next: { type: 'immediate', target: 'menu' },
      },
      {
        id: 'menu',
        next: {
          type: 'answer',
          question: { en: 'How can we help?', es: '¿En qué podemos ayudar?' },
          choices: [
            { id: 'sales', title: { en: 'Sales', es: 'Ventas' }, similar: ['buy', 'comprar'], target: { kind: 'queue', id: 'q_sales' } },
            { id: 'support', title: 'Support', target: 'ticket' },
            { id: 'order', pattern: '^\\d{6}$', target: { kind: 'chatbot', id: 'bot_1' } },
          ],
          default: 'menu',
          saveAs: 'firstAnswer',
          timeout: { seconds: 3600, target: { kind: 'terminate', id: 't_bye' } },
        },
      },
      {
        id: 'ticket',
        actions: [{ type: 'create_ticket', subject: 'Support for {{contact.phone}}: {{data.firstAnswer}}' }],
        next: { type: 'immediate', target: { kind: 'time_condition', id: 'tc_hours' } },
      },
    ],
  };
}

const parse = (input: DecisionTreeInput) => decisionTreeSchema.parse(input);
const messages = (input: DecisionTreeInput, ctx: TreeValidationContext = context) => validateTree(parse(input), ctx);

describe('decision tree schema', () => {
  it('accepts every action and target and fills defaults', () => {
    const tree = parse(sampleTree());
    expect(tree.decisions[0]!.actions[1]).toEqual({
      type: 'request_data',
      variable: 'customer',
      url: 'https://crm.example.com/customers?phone={{contact.phone}}',
      method: 'GET',
      timeoutMs: 3000,
    });
    expect(tree.decisions[2]!.actions).toHaveLength(1);
    expect(validateTree(tree, context)).toEqual([]);
  });

  it('refuses a request timeout over 10 s, unknown fields and a bad destination kind', () => {
    const t = sampleTree();
    (t.decisions[0]!.actions![1] as { timeoutMs: number }).timeoutMs = 10_001;
    const r = decisionTreeSchema.safeParse(t);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual(['decisions.0.actions.1.timeoutMs']);
    expect(decisionTreeSchema.safeParse({ ...sampleTree(), extra: 1 }).success).toBe(false);
    const bad = sampleTree();
    (bad.decisions[1]!.next as { default: unknown }).default = { kind: 'voicemail', id: 'x' };
    expect(decisionTreeSchema.safeParse(bad).success).toBe(false);
  });

  it('lists the variables a tree saves and what it reaches without an answer', () => {
    const tree = parse(sampleTree());
    expect([...treeVariables(tree)].sort()).toEqual(['customer', 'firstAnswer', 'tier']);
    expect(immediateDestinations(tree)).toEqual([]);
    const direct = parse({ defaultLanguage: 'en', start: 'a', decisions: [{ id: 'a', next: { type: 'immediate', target: { kind: 'decision_tree', id: 'tree_other' } } }] });
    expect(immediateDestinations(direct)).toEqual([{ kind: 'decision_tree', id: 'tree_other' }]);
  });
});

describe('validateTree', () => {
  it('reports duplicate decision and choice ids', () => {
    const t = sampleTree();
    t.decisions.push({ id: 'menu', next: { type: 'immediate', target: { kind: 'terminate' } } });
    const menu = t.decisions[1]!.next as { choices: { id: string }[] };
    menu.choices[1]!.id = 'sales';
    expect(messages(t)).toEqual([
      { path: 'decisions.3.id', message: 'Duplicate decision id "menu" (also decisions.1).' },
      { path: 'decisions.1.next.choices.1.id', message: 'Duplicate choice id "sales" (also choice 0).' },
    ]);
  });

  it('reports unknown targets: decisions, destinations, missing ids, an assistant with an id', () => {
    const t = sampleTree();
    t.start = 'nowhere';
    const menu = t.decisions[1]!.next as { choices: { target: unknown }[]; default: unknown; timeout: { target: unknown } };
    menu.choices[0]!.target = { kind: 'queue', id: 'q_gone' };
    menu.choices[1]!.target = 'missing';
    menu.default = { kind: 'chatbot' };
    menu.timeout.target = { kind: 'assistant', id: 'a1' };
    (t.decisions[2]!.next as { target: unknown }).target = { kind: 'decision_tree', id: 'tree_gone' };
    expect(messages(t)).toEqual([
      { path: 'start', message: 'No decision "nowhere" in this tree.' },
      { path: 'decisions.1.next.choices.0.target.id', message: 'No queue "q_gone".' },
      { path: 'decisions.1.next.choices.1.target', message: 'No decision "missing" in this tree.' },
      { path: 'decisions.1.next.default', message: 'A chatbot destination needs an id.' },
      { path: 'decisions.1.next.timeout.target.id', message: 'The assistant is the channel’s own: give no id.' },
      { path: 'decisions.2.next.target.id', message: 'No decision tree "tree_gone".' },
    ]);
  });

  it('accepts a bare terminate and the channel’s assistant', () => {
    const t = sampleTree();
    (t.decisions[2]!.next as { target: unknown }).target = { kind: 'terminate' };
    (t.decisions[1]!.next as { default: unknown }).default = { kind: 'assistant' };
    expect(messages(t)).toEqual([]);
  });

  it('reports decisions no path reaches', () => {
    const t = sampleTree();
    t.decisions.push({ id: 'orphan', next: { type: 'immediate', target: 'menu' } });
    expect(messages(t)).toEqual([{ path: 'decisions.3', message: 'No path from the start ("welcome") reaches decision "orphan".' }]);
  });

  it('reports a loop that never waits for the contact, once, but allows loops through a question', () => {
    const t = sampleTree();
    // ticket → welcome → menu waits for an answer: allowed.
    (t.decisions[2]!.next as { target: unknown }).target = 'welcome';
    expect(messages(t)).toEqual([]);
    // welcome → a → b → a never waits.
    t.decisions[0]!.next = { type: 'immediate', target: 'a' };
    t.decisions.push({ id: 'a', next: { type: 'immediate', target: 'b' } }, { id: 'b', next: { type: 'immediate', target: 'a' } });
    const problems = messages(t);
    expect(problems).toContainEqual({ path: 'decisions.4.next.target', message: 'These decisions go on to each other without waiting for an answer, forever: a → b → a.' });
    expect(problems.filter((p) => p.message.includes('forever'))).toHaveLength(1);
  });

  it('reports a tree that restarts itself without an answer', () => {
    const t = parse({ defaultLanguage: 'en', start: 'a', decisions: [{ id: 'a', next: { type: 'immediate', target: { kind: 'decision_tree', id: 'tree_self' } } }] });
    const ctx = { ...context, treeId: 'tree_self', destinations: { decision_tree: ['tree_self'] } };
    expect(validateTree(t, ctx)).toEqual([{ path: 'decisions.0.next.target', message: 'The tree starts itself again without waiting for an answer, forever.' }]);
  });

  it('reports invalid, long, catastrophic and empty-matching patterns', () => {
    expect(patternProblem('^\\d{6}$')).toBeNull();
    expect(patternProblem('(unclosed')).toMatch(/^Not a valid regular expression: /);
    expect(patternProblem('a'.repeat(201))).toBe('The pattern is longer than 200 characters.');
    expect(patternProblem('^(a+)+$')).toMatch(/exponential time/);
    expect(patternProblem('(x|y)*')).toMatch(/empty answer/);
    const t = sampleTree();
    const menu = t.decisions[1]!.next as { choices: { pattern?: string }[] };
    menu.choices[2]!.pattern = '([a-z]*)*$';
    menu.choices[0]!.pattern = '[';
    const problems = messages(t);
    expect(problems.map((p) => p.path)).toEqual(['decisions.1.next.choices.0.pattern', 'decisions.1.next.choices.2.pattern']);
  });

  it('reports placeholders without a source, malformed and unclosed ones, with the variant’s path', () => {
    const t = sampleTree();
    t.decisions[0]!.actions![0] = { type: 'send_message', text: { en: 'Hi {{contact.age}}', es: 'Hola {{data.nothing}}', pt: 'Olá {{contact.name}' } };
    t.decisions[0]!.actions![2] = { type: 'save_data', key: 'tier', value: '{{ 9bad }} {{queue.position}}' };
    expect(messages(t)).toEqual([
      { path: 'decisions.0.actions.0.text.en', message: '{{contact.age}} has no source here; known: contact.name, contact.phone, conversation.id, data.<variable>.' },
      { path: 'decisions.0.actions.0.text.es', message: '{{data.nothing}}: no action saves a variable named "nothing" (save data, request data or a saved answer).' },
      { path: 'decisions.0.actions.0.text.pt', message: 'An unclosed {{ placeholder.' },
      { path: 'decisions.0.actions.2.value', message: '{{ 9bad }} is not a placeholder name (use letters, digits, _ and dots, as in {{contact.name}}).' },
      { path: 'decisions.0.actions.2.value', message: '{{queue.position}} has no source here; known: contact.name, contact.phone, conversation.id, data.<variable>.' },
    ]);
    // Queue figures are allowed where the caller says they have a source.
    expect(messages(t, { ...context, placeholders: QUEUE_TEMPLATE_PLACEHOLDERS }).filter((p) => p.message.startsWith('{{queue'))).toEqual([]);
  });

  it('reports a message or question made of placeholders alone', () => {
    const t = sampleTree();
    t.decisions[0]!.actions![0] = { type: 'send_message', text: { en: '{{contact.name}}', es: '{{contact.name|Hola}}' } };
    (t.decisions[1]!.next as { question: unknown }).question = ' {{data.tier}} ';
    expect(messages(t)).toEqual([
      { path: 'decisions.0.actions.0.text.en', message: 'Write some text besides placeholders (or give them a fallback): they may be empty when the message is sent.' },
      { path: 'decisions.1.next.question', message: 'Write some text besides placeholders (or give them a fallback): they may be empty when the message is sent.' },
    ]);
  });

  it('reports language variants missing the default or outside the tree’s languages', () => {
    const t = sampleTree();
    t.decisions[1]!.next = { ...(t.decisions[1]!.next as object), question: { es: '¿Qué?', fr: 'Quoi ?' } } as never;
    expect(messages(t)).toEqual([
      { path: 'decisions.1.next.question.fr', message: '"fr" is not one of the tree’s languages (en, es, pt).' },
      { path: 'decisions.1.next.question', message: 'A variant in the default language (en) is required.' },
    ]);
  });

  it('reports choices nothing can select and duplicate titles', () => {
    const t = sampleTree();
    const menu = t.decisions[1]!.next as { choices: Record<string, unknown>[] };
    menu.choices.push({ id: 'ghost', target: 'menu' }, { id: 'again', title: 'sales', target: 'menu' });
    expect(messages(t)).toEqual([
      { path: 'decisions.1.next.choices.3', message: 'A choice needs a title, a pattern or similar words, or nothing can select it.' },
      { path: 'decisions.1.next.choices.4.title', message: 'In en, choice 0 has the same title ("Sales").' },
    ]);
  });

  it('applies the partner-webhook rules to request URLs and keeps placeholders out of the host', () => {
    const t = sampleTree();
    const action = (url: string, extra: object = {}) => {
      t.decisions[0]!.actions![1] = { type: 'request_data', variable: 'customer', url, ...extra };
      return messages(t);
    };
    expect(action('http://crm.example.com/x')).toEqual([{ path: 'decisions.0.actions.1.url', message: 'The URL must use https (it uses http).' }]);
    expect(action('https://127.0.0.1/x')[0]!.message).toMatch(/127\.0\.0\.1/);
    expect(action('https://{{data.tier}}.example.com/x')).toEqual([{ path: 'decisions.0.actions.1.url', message: 'Placeholders may fill the URL’s path and query, not its scheme or host.' }]);
    expect(action('not a url')).toEqual([{ path: 'decisions.0.actions.1.url', message: 'Not a valid absolute URL.' }]);
    expect(action('https://crm.example.com/x', { body: { a: '{{contact.phone}}' } })).toEqual([{ path: 'decisions.0.actions.1.body', message: 'Only a POST request has a body.' }]);
    expect(action('https://crm.example.com/x', { method: 'POST', body: { a: '{{contact.nope}}' } })[0]!.path).toBe('decisions.0.actions.1.body.a');
    t.decisions[0]!.actions![1] = { type: 'request_data', variable: 'customer', url: 'http://crm.example.com/x' };
    expect(messages(t, { ...context, allowInsecureUrls: true })).toEqual([]);
  });

  it('prefixes paths, and parseTree throws a ValidationError with the problems', () => {
    const t = sampleTree();
    t.start = 'nowhere';
    try {
      parseTree(t, { ...context, path: 'tree.' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      const e = err as ValidationError;
      expect(e.status).toBe(400);
      expect(e.errors).toContainEqual({ path: 'tree.start', message: 'No decision "nowhere" in this tree.' });
    }
    try {
      parseTree({ ...sampleTree(), decisions: [] }, { ...context, path: 'tree.' });
      expect.unreachable();
    } catch (err) {
      expect((err as ValidationError).errors![0]!.path).toBe('tree.decisions');
    }
    expect(parseTree(sampleTree(), context).start).toBe('welcome');
  });
});

describe('placeholders', () => {
  const sources = {
    contact: { name: 'Ana María', phone: '+50212345678' },
    conversation: { id: 'c_1' },
    data: { customer: { tier: 'gold', orders: [1, 2] }, code: 'a b&c', empty: '' },
    queue: { position: 3, averageWaitMinutes: 0 },
  };

  it('fills every source, nested data, numbers (zero too) and JSON', () => {
    expect(
      fillTemplate(
        'Hi {{contact.name}} ({{ contact.phone }}), #{{conversation.id}}: {{data.customer.tier}} {{data.customer.orders}}; you are {{queue.position}}, about {{queue.averageWaitMinutes}} min',
        sources,
      ),
    ).toBe('Hi Ana María (+50212345678), #c_1: gold [1,2]; you are 3, about 0 min');
  });

  it('renders a missing value as its fallback or empty', () => {
    expect(fillTemplate('Hi {{contact.name | there}}!', { contact: { name: null } })).toBe('Hi there!');
    expect(fillTemplate('Hi {{contact.name}}!', {})).toBe('Hi !');
    expect(fillTemplate('[{{data.empty|none}}] [{{data.customer.missing}}]', sources)).toBe('[none] []');
  });

  it('encodes values for URLs when asked, and leaves malformed braces alone', () => {
    expect(fillTemplate('https://x.test/?q={{data.code}}&n={{contact.name}}', sources, { encode: encodeURIComponent })).toBe('https://x.test/?q=a%20b%26c&n=Ana%20Mar%C3%ADa');
    expect(fillTemplate('{{ not valid! }}', sources)).toBe('{{ not valid! }}');
  });

  it('checks names against the allowed sources', () => {
    expect(checkTemplate('{{queue.position}}', { allowed: TREE_PLACEHOLDERS }, 'p')).toHaveLength(1);
    expect(checkTemplate('{{queue.position}} {{queue.averageWaitMinutes}}', { allowed: QUEUE_TEMPLATE_PLACEHOLDERS }, 'p')).toEqual([]);
    expect(checkTemplate('{{data.x.y}}', { allowed: [], variables: new Set(['x']) }, 'p')).toEqual([]);
  });
});
