import { describe, expect, it } from 'vitest';
import { jsonWithLines, lineForPath, lineRange } from './json-lines';
import { formatDuration, layoutTree, placeProblems, treeProblemPath } from './tree-layout';
import type { DecisionTree } from './types';

const tree: DecisionTree = {
  defaultLanguage: 'en',
  languages: ['es'],
  start: 'welcome',
  decisions: [
    { id: 'welcome', actions: [{ type: 'send_message', text: 'Hi!' }], next: { type: 'immediate', target: 'menu' } },
    {
      id: 'menu',
      actions: [],
      next: {
        type: 'answer',
        question: { en: 'How can we help?', es: '¿En qué podemos ayudar?' },
        choices: [
          { id: 'sales', title: { en: 'Sales', es: 'Ventas' }, target: { kind: 'queue', id: 'q1' } },
          { id: 'order', pattern: '^#?\\d{6}$', target: 'ticket' },
          { id: 'words', similar: ['refund', 'money back'], target: { kind: 'queue', id: 'q1' } },
        ],
        default: 'menu',
        timeout: { seconds: 3600, target: { kind: 'terminate' } },
      },
    },
    { id: 'ticket', actions: [{ type: 'create_ticket', subject: 'Order' }], next: { type: 'immediate', target: { kind: 'assistant' } } },
    { id: 'orphan', actions: [], next: { type: 'immediate', target: 'nowhere' } },
  ],
};

describe('the decision-tree diagram layout', () => {
  const layout = layoutTree(tree);

  it('puts decisions and destinations in layers, breadth first from the start', () => {
    expect(layout.startKey).toBe('d:welcome');
    expect(layout.layers[0]).toEqual(['d:welcome']);
    expect(layout.layers[1]).toEqual(['d:menu']);
    // One box per destination, however many edges lead there.
    expect(layout.layers[2]).toEqual(['x:queue:q1', 'd:ticket', 'x:terminate:']);
    expect(layout.layers[3]).toEqual(['x:assistant:']);
    // The unreachable decision, and the unknown one it names, come last.
    expect(layout.layers[4]).toEqual(['d:orphan', 'm:nowhere']);
    expect(layout.nodes.get('d:orphan')!.reachable).toBe(false);
    expect(layout.nodes.get('m:nowhere')!.kind).toBe('missing');
  });

  it('labels each edge by the kind of answer that takes it', () => {
    const fromMenu = layout.edges.filter((e) => e.from === 'd:menu').map((e) => [e.kind, e.label, e.to]);
    expect(fromMenu).toEqual([
      ['choice', 'Sales', 'x:queue:q1'],
      ['choice', 'matches /^#?\\d{6}$/', 'd:ticket'],
      ['choice', 'says refund, money back', 'x:queue:q1'],
      ['default', 'any other answer', 'd:menu'],
      ['timeout', 'no answer in 1 h', 'x:terminate:'],
    ]);
    expect(layout.edges.find((e) => e.from === 'd:welcome')).toMatchObject({ kind: 'next', label: 'then', path: 'decisions.0.next.target' });
    expect(formatDuration(90)).toBe('90 s');
    expect(formatDuration(1800)).toBe('30 min');
    expect(formatDuration(172_800)).toBe('2 d');
  });

  it('places server problems on the edge, the decision or the tree they name', () => {
    expect(treeProblemPath('decisionTrees.1.tree.decisions.1.next.choices.1.pattern', 1)).toBe('decisions.1.next.choices.1.pattern');
    expect(treeProblemPath('decisionTrees.0.tree.start', 1)).toBeNull();
    expect(treeProblemPath('tree.decisions.3', null)).toBe('decisions.3');
    expect(treeProblemPath('name', null)).toBeNull();
    const placed = placeProblems(
      [
        { path: 'decisions.1.next.choices.1.pattern', message: 'bad pattern' },
        { path: 'decisions.3', message: 'not reached' },
        { path: 'decisions.1.next.question', message: 'empty question' },
        { path: 'defaultLanguage', message: 'bad language' },
      ],
      layout,
    );
    expect(placed.byEdge.get('decisions.1.next.choices.1')?.map((p) => p.message)).toEqual(['bad pattern']);
    // choices.1 must not catch choices.10: the edge is matched on whole path segments.
    expect(placed.byEdge.get('decisions.1.next.choices.10')).toBeUndefined();
    expect(placed.byNode.get('d:orphan')?.map((p) => p.message)).toEqual(['not reached']);
    expect(placed.byNode.get('d:menu')?.map((p) => p.message)).toEqual(['empty question']);
    expect(placed.tree.map((p) => p.message)).toEqual(['bad language']);
  });

  it('finds the JSON line of a problem’s path, or of its nearest parent', () => {
    const { text, lineOf } = jsonWithLines(tree);
    expect(text).toBe(JSON.stringify(tree, null, 2));
    const lines = text.split('\n');
    expect(lines[lineOf.get('start')!]).toBe('  "start": "welcome",');
    expect(lines[lineForPath(lineOf, 'decisions.1.next.choices.1.pattern')!]).toContain('"pattern": "^#?\\\\d{6}$"');
    // A field that is missing points at the object that lacks it.
    expect(lines[lineForPath(lineOf, 'decisions.2.next.saveAs')]).toBe('      "next": {');
    const [start, end] = lineRange(text, lineOf.get('start')!);
    expect(text.slice(start, end)).toBe('  "start": "welcome",');
  });
});
