import { describe, expect, it } from 'vitest';
import { detectLanguage, pickLanguage } from '../src/routing/language';
import { answerFromMessage, answerNumber, foldText, matchAnswer } from '../src/routing/matching';
import { renderChoices, renderQuestion } from '../src/routing/render';
import { type Choice, type Decision, decisionSchema } from '../src/routing/tree';
import type { OutboundContent } from '../src/sending';

interface Shown {
  type: string;
  action: { button?: string; buttons?: { reply: { id: string; title: string } }[]; sections?: { rows: { id: string; title: string }[] }[] };
}
/** The interactive object of rendered content, asserting it is one. */
function interactive(content: OutboundContent): Shown {
  if (content.type !== 'interactive') throw new Error(`expected interactive content, got ${content.type}`);
  return content.interactive as unknown as Shown;
}

const decision = (choices: object[], extra: object = {}): Decision =>
  decisionSchema.parse({ id: 'menu', next: { type: 'answer', question: 'How can we help?', choices, default: { kind: 'queue', id: 'q_general' }, ...extra } });

const menu = decision([
  { id: 'sales', title: { en: 'Sales', es: 'Ventas' }, similar: ['buy', 'price', 'comprar', 'cotización'], target: { kind: 'queue', id: 'q_sales' } },
  { id: 'support', title: { en: 'Technical support', es: 'Soporte técnico' }, similar: ['broken', 'not working', 'no funciona'], target: 'support_menu' },
  { id: 'agent', title: 'Talk to a person', similar: ['agente', 'human'], target: { kind: 'queue', id: 'q_people' } },
  { id: 'order', pattern: '^(?:order\\s*)?#?(\\d{6})$', target: { kind: 'chatbot', id: 'orders' } },
]);

const pick = (text: Parameters<typeof matchAnswer>[1]) => {
  const m = matchAnswer(menu, text);
  return m.kind === 'choice' ? { id: m.choice.id, reason: m.reason, matched: m.matched, typos: m.typos } : m;
};

describe('matchAnswer', () => {
  it('takes a button or list reply by its id, the decision-scoped id or the bare one', () => {
    expect(pick({ replyId: 'menu/support', text: 'Technical support' })).toEqual({ id: 'support', reason: 'reply_id', matched: 'menu/support', typos: undefined });
    expect(pick({ replyId: 'agent' })).toMatchObject({ id: 'agent', reason: 'reply_id' });
  });

  it('takes a stale reply from another decision’s buttons by its title', () => {
    expect(pick({ replyId: 'other/sales', text: 'Talk to a person' })).toMatchObject({ id: 'agent', reason: 'title' });
    expect(matchAnswer(menu, { replyId: 'other/x', text: 'Yes' })).toEqual({ kind: 'default', target: { kind: 'queue', id: 'q_general' }, reason: 'no_match' });
  });

  it('matches a typed title in any language, whatever the case and accents', () => {
    expect(pick('ventas')).toMatchObject({ id: 'sales', reason: 'title', matched: 'Ventas' });
    expect(pick('SOPORTE TECNICO')).toMatchObject({ id: 'support', reason: 'title', matched: 'Soporte técnico' });
    expect(pick('  talk to a person!  ')).toMatchObject({ id: 'agent', reason: 'title' });
  });

  it('matches the numbers of the choices shown, as digits, with punctuation or as words', () => {
    for (const [text, id] of <[string, string][]>[['1', 'sales'], ['2.', 'support'], ['#3', 'agent'], ['option 2', 'support'], ['opción 1', 'sales'], ['two', 'support'], ['dos', 'support'], ['três', 'agent'], ['3)', 'agent']]) {
      expect(pick(text), text).toMatchObject({ id, reason: 'number' });
    }
    // Only the titled choices are numbered: 4 is not the pattern-only choice.
    expect(pick('4')).toMatchObject({ kind: 'default' });
    expect(answerNumber('12')).toBe(12);
    expect(answerNumber('2 please')).toBeNull();
  });

  it('matches a pattern, reporting what it matched', () => {
    expect(pick('order #123456')).toEqual({ id: 'order', reason: 'pattern', matched: 'order #123456', typos: undefined });
    expect(pick('ORDER 654321')).toMatchObject({ id: 'order', reason: 'pattern' });
    expect(pick('1234567')).toMatchObject({ kind: 'default' });
  });

  it('matches patterns written without accents against accented answers', () => {
    const d = decision([{ id: 'yes', pattern: '^(si|sim|yes)\\b', target: 'x' }, { id: 'x', title: 'X', target: 'x' }]);
    expect(matchAnswer(d, 'Sí, claro')).toMatchObject({ kind: 'choice', reason: 'pattern', matched: 'Si' });
  });

  it('matches similar words inside a sentence, forgiving case, accents and small typos', () => {
    expect(pick('I want to BUY something')).toEqual({ id: 'sales', reason: 'similar', matched: 'buy', typos: 0 });
    expect(pick('quiero una cotizacion')).toMatchObject({ id: 'sales', reason: 'similar', matched: 'cotización', typos: 0 });
    expect(pick('my router is brokn')).toEqual({ id: 'support', reason: 'similar', matched: 'broken', typos: 1 });
    expect(pick('the app is not workign')).toMatchObject({ id: 'support', matched: 'not working', typos: 2 });
    expect(pick('la app no funsiona')).toMatchObject({ id: 'support', matched: 'no funciona', typos: 1 });
    expect(pick('un agnete por favor')).toMatchObject({ id: 'agent', matched: 'agente', typos: 2 });
    // Short words must be exact: "bay" is not "buy".
    expect(pick('bay')).toMatchObject({ kind: 'default' });
  });

  it('falls back to fuzzy titles after similar words', () => {
    expect(pick('tecnical suport')).toMatchObject({ id: 'support', reason: 'similar', matched: 'Technical support', typos: 2 });
  });

  it('takes the default answer for anything else, and for an empty answer', () => {
    expect(matchAnswer(menu, 'What is the weather like?')).toEqual({ kind: 'default', target: { kind: 'queue', id: 'q_general' }, reason: 'no_match' });
    expect(matchAnswer(menu, { text: '   ' })).toEqual({ kind: 'default', target: { kind: 'queue', id: 'q_general' }, reason: 'empty' });
  });

  it('prefers the fewest typos, then the earlier choice', () => {
    const d = decision([
      { id: 'a', similar: ['cancel'], target: 'x' },
      { id: 'b', similar: ['cancelar'], target: 'x' },
      { id: 'c', similar: ['cancel'], target: 'x' },
    ]);
    expect(matchAnswer(d, 'cancelar')).toMatchObject({ choice: { id: 'b' }, typos: 0 });
    expect(matchAnswer(d, 'cancel')).toMatchObject({ choice: { id: 'a' }, typos: 0 });
  });

  it('refuses a decision that asks nothing', () => {
    const d = decisionSchema.parse({ id: 'go', next: { type: 'immediate', target: 'x' } });
    expect(() => matchAnswer(d, 'hi')).toThrow(/does not wait/);
  });

  it('reads the answer from stored inbound messages of each kind', () => {
    expect(answerFromMessage({ type: 'text', content: { text: 'two' } })).toEqual({ text: 'two' });
    const button = answerFromMessage({ type: 'interactive', content: { interactive: { kind: 'button_reply', id: 'menu/sales', title: 'Sales' } } });
    expect(button).toEqual({ replyId: 'menu/sales', text: 'Sales' });
    expect(pick(button!)).toMatchObject({ id: 'sales', reason: 'reply_id' });
    const row = answerFromMessage({ type: 'interactive', content: { interactive: { kind: 'list_reply', id: 'menu/agent', title: 'Talk to a person', description: 'x' } } });
    expect(pick(row!)).toMatchObject({ id: 'agent', reason: 'reply_id' });
    const quickReply = answerFromMessage({ type: 'button', content: { button: { text: 'Support', payload: 'support' } } });
    expect(pick(quickReply!)).toMatchObject({ id: 'support', reason: 'reply_id' });
    expect(answerFromMessage({ type: 'image', content: { media: { id: 'm1', caption: 'order #123456' } } })).toEqual({ text: 'order #123456' });
    expect(answerFromMessage({ type: 'image', content: { media: { id: 'm1' } } })).toBeNull();
    expect(answerFromMessage({ type: 'sticker', content: { media: { id: 'm1' } } })).toBeNull();
    expect(answerFromMessage({ type: 'interactive', content: { interactive: { kind: 'nfm_reply', body: 'Sent' } } })).toBeNull();
  });

  it('folds text for comparisons', () => {
    expect(foldText('  ¡Árbol   ÑANDÚ!! ')).toBe('arbol nandu');
  });
});

const choices = (n: number, extra: (i: number) => object = () => ({})): Choice[] =>
  Array.from({ length: n }, (_, i) => ({ id: `c${i + 1}`, title: `Option ${i + 1}`, target: 'x', ...extra(i) }) as Choice);

describe('renderChoices', () => {
  it('renders 2 choices as reply buttons', () => {
    expect(renderChoices('Pick one', choices(2), 'en', { decisionId: 'menu' })).toEqual({
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: 'Pick one' },
        action: {
          buttons: [
            { type: 'reply', reply: { id: 'menu/c1', title: 'Option 1' } },
            { type: 'reply', reply: { id: 'menu/c2', title: 'Option 2' } },
          ],
        },
      },
    });
  });

  it('renders 5 choices as a list with one section, descriptions and the button text', () => {
    const five = choices(5, (i) => (i === 0 ? { description: { en: 'The first one', es: 'La primera' } } : {}));
    expect(renderChoices('Pick one', five, 'es', { decisionId: 'menu', defaultLanguage: 'en' })).toEqual({
      type: 'interactive',
      interactive: {
        type: 'list',
        body: { text: 'Pick one' },
        action: {
          button: 'Opciones',
          sections: [
            {
              rows: [
                { id: 'menu/c1', title: 'Option 1', description: 'La primera' },
                { id: 'menu/c2', title: 'Option 2' },
                { id: 'menu/c3', title: 'Option 3' },
                { id: 'menu/c4', title: 'Option 4' },
                { id: 'menu/c5', title: 'Option 5' },
              ],
            },
          ],
        },
      },
    });
    const custom = renderChoices('Pick', five, 'pt', { buttonText: { en: 'See the options please', pt: 'Ver' }, defaultLanguage: 'en' });
    expect(interactive(custom).action.button).toBe('Ver');
    expect(interactive(custom).action.sections![0]!.rows[0]!.id).toBe('c1');
    const long = renderChoices('Pick', five, 'en', { buttonText: 'See all the options we have' });
    expect(interactive(long).action.button).toBe('See all the options…');
  });

  it('renders 12 choices as numbered text lines that the number answers match', () => {
    const twelve = choices(12, (i) => (i === 11 ? { description: 'the last' } : {}));
    const content = renderChoices('Pick one', twelve, 'en');
    expect(content).toEqual({
      type: 'text',
      text: ['Pick one', '', ...Array.from({ length: 11 }, (_, i) => `${i + 1}. Option ${i + 1}`), '12. Option 12 — the last'].join('\n'),
    });
    const d = decision(twelve);
    expect(matchAnswer(d, '12')).toMatchObject({ kind: 'choice', choice: { id: 'c12' }, reason: 'number' });
  });

  it('keeps Meta’s limits: long button titles or descriptions go to a list, and hidden choices are not shown', () => {
    const wide = [{ id: 'a', title: 'A title of 24 letters..', target: 'x' }, { id: 'b', title: 'B', target: 'x' }] as Choice[];
    const asList = interactive(renderChoices('Q', wide, 'en'));
    expect(asList.type).toBe('list');
    expect(asList.action.sections![0]!.rows.every((r) => r.title.length <= 24)).toBe(true);
    expect(interactive(renderChoices('Q', choices(2, () => ({ description: 'more' })), 'en')).type).toBe('list');
    const hidden = [{ id: 'p', pattern: '^\\d+$', target: 'x' }, ...choices(3)] as Choice[];
    const buttons = interactive(renderChoices('Q', hidden, 'en'));
    expect(buttons.type).toBe('button');
    expect(buttons.action.buttons!.map((b) => b.reply.id)).toEqual(['c1', 'c2', 'c3']);
    expect(buttons.action.buttons!.every((b) => b.reply.title.length <= 20)).toBe(true);
    expect(renderChoices('Just a question', [hidden[0]!], 'en')).toEqual({ type: 'text', text: 'Just a question' });
    // A question over the button body limit is sent as a list (up to 4096).
    expect(interactive(renderChoices('x'.repeat(1025), choices(2), 'en')).type).toBe('list');
  });

  it('renders a decision’s question in the contact’s language with its placeholders filled', () => {
    const d = decisionSchema.parse({
      id: 'ask',
      next: {
        type: 'answer',
        question: { en: 'Hi {{contact.name}}, what now?', es: 'Hola {{contact.name}}, ¿qué sigue?' },
        choices: [{ id: 'y', title: { en: 'Yes', es: 'Sí' }, target: 'x' }],
        default: 'x',
      },
    });
    expect(renderQuestion(d, 'es', 'en', { contact: { name: 'Ana' } })).toEqual({
      type: 'interactive',
      interactive: { type: 'button', body: { text: 'Hola Ana, ¿qué sigue?' }, action: { buttons: [{ type: 'reply', reply: { id: 'ask/y', title: 'Sí' } }] } },
    });
    // The reply comes back with that id, and the typed title works too.
    expect(matchAnswer(d, { replyId: 'ask/y', text: 'Sí' })).toMatchObject({ reason: 'reply_id' });
    expect(matchAnswer(d, 'si')).toMatchObject({ reason: 'title' });
  });
});

describe('detectLanguage', () => {
  const tree = { defaultLanguage: 'en', languages: ['es', 'pt'] };

  it('takes the profile locale when the tree speaks it', () => {
    expect(detectLanguage('es_MX', 'hello', tree)).toBe('es');
    expect(detectLanguage('pt-BR', '', tree)).toBe('pt');
    expect(detectLanguage('fr_FR', 'Hola, buenas tardes', tree)).toBe('es');
  });

  it('tells Spanish, English and Portuguese apart in sentences', () => {
    expect(detectLanguage(undefined, 'Hola, quiero saber el estado de mi pedido por favor', tree)).toBe('es');
    expect(detectLanguage(undefined, 'Hello, I would like to know the status of my order', tree)).toBe('en');
    expect(detectLanguage(undefined, 'Olá, gostaria de saber o status do meu pedido, obrigado', tree)).toBe('pt');
    expect(detectLanguage(null, 'Necesito hablar con alguien sobre mi factura del mes pasado', tree)).toBe('es');
    expect(detectLanguage(null, 'Preciso falar com alguém sobre a minha fatura do mês passado', tree)).toBe('pt');
  });

  it('tells them apart in short greetings', () => {
    expect(detectLanguage(undefined, 'hola', tree)).toBe('es');
    expect(detectLanguage(undefined, 'Oi', tree)).toBe('pt');
    expect(detectLanguage(undefined, 'obrigado!', tree)).toBe('pt');
    expect(detectLanguage(undefined, 'necesito ayuda', tree)).toBe('es');
    expect(detectLanguage(undefined, 'preciso de ajuda', tree)).toBe('pt');
    expect(detectLanguage(undefined, 'hi there', tree)).toBe('en');
  });

  it('falls back to the default language', () => {
    expect(detectLanguage(undefined, '👍', tree)).toBe('en');
    expect(detectLanguage(undefined, 'pedido', tree)).toBe('en');
    expect(detectLanguage(undefined, 'Hola', { defaultLanguage: 'pt', languages: [] })).toBe('pt');
    expect(detectLanguage(undefined, 'Bonjour, je voudrais parler à quelqu’un', tree)).toBe('en');
  });

  it('picks a text’s variant, falling back to the default language', () => {
    expect(pickLanguage({ en: 'Hi', es: 'Hola' }, 'es', 'en')).toBe('Hola');
    expect(pickLanguage({ en: 'Hi', es: 'Hola' }, 'pt', 'en')).toBe('Hi');
    expect(pickLanguage('Same', 'pt', 'en')).toBe('Same');
  });
});
