// @vitest-environment happy-dom
import { act } from 'react';
import { createRoot } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { DecisionTree, RoutingDocument } from '../../routing/types';
import { TreeDiagram } from './TreeDiagram';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const doc = {
  queues: [{ id: 'q1', name: 'Sales', priority: 0, agentIds: [], autoResponse: null }],
  timeGroups: [],
  timeConditions: [],
  decisionTrees: [],
  chatbots: [],
  terminates: [],
  channels: [],
} as RoutingDocument;

const tree: DecisionTree = {
  defaultLanguage: 'en',
  start: 'menu',
  decisions: [
    {
      id: 'menu',
      actions: [{ type: 'send_message', text: 'Hi {{contact.name | there}}!' }],
      next: { type: 'answer', question: 'How can we help?', choices: [{ id: 'sales', title: 'Sales', target: { kind: 'queue', id: 'q1' } }], default: 'menu' },
    },
  ],
};

let container: HTMLDivElement;
afterEach(() => container?.remove());

function render(node: React.ReactNode) {
  container = document.createElement('div');
  document.body.append(container);
  const root = createRoot(container);
  act(() => root.render(node));
  return root;
}

describe('the decision-tree diagram', () => {
  it('shows decisions as labelled boxes with their actions, question and outgoing targets', () => {
    render(<TreeDiagram tree={tree} doc={doc} />);
    const boxes = [...container.querySelectorAll('article')];
    expect(boxes.map((b) => b.querySelector('h4')!.textContent!.trim())).toEqual(['Start Decision menu', 'Queue Sales']);
    const menu = boxes[0]!;
    expect(menu.getAttribute('aria-labelledby')).toBe(menu.querySelector('h4')!.id);
    expect(menu.querySelector('[aria-label="Actions"]')!.textContent).toBe('Send “Hi {{contact.name | there}}!”');
    expect(menu.querySelector('.question')!.textContent).toContain('How can we help?');
    const rows = [...menu.querySelectorAll('[aria-label="Goes to"] > li')].map((li) => li.textContent!.replace(/\s+/g, ' ').trim());
    expect(rows).toEqual(['answer Sales → goes to Queue Sales', 'default any other answer → goes to Decision menu']);
    // The arrows are for the eye; the links carry the same for keyboards and screen readers.
    expect(container.querySelector('svg')!.getAttribute('aria-hidden')).toBe('true');
  });

  it('moves focus along an edge to its target box', () => {
    render(<TreeDiagram tree={tree} doc={doc} />);
    const link = [...container.querySelectorAll('a')].find((a) => a.textContent!.includes('Queue Sales'))!;
    act(() => link.click());
    expect(document.activeElement?.tagName).toBe('ARTICLE');
    expect(document.activeElement?.textContent).toBe('Queue Sales');
  });

  it('puts server problems on the edge they name, and offers the outline as nested lists', () => {
    const problems = [{ path: 'decisions.0.next.choices.0.target.id', message: 'No queue with id q1.' }];
    render(<TreeDiagram tree={tree} doc={doc} problems={problems} />);
    const row = container.querySelector('[data-edge="decisions.0.next.choices.0"]')!;
    expect(row.className).toContain('has-problem');
    expect(row.textContent).toContain('No queue with id q1.');
    const outline = container.querySelector('.outline')!;
    expect(outline.querySelector(':scope > li > ul > li')!.textContent).toBe('Sales: Queue Sales');
    expect(outline.textContent).toContain('any other answer: Decision menu (shown above)');
  });
});
