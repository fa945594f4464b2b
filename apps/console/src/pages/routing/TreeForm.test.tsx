// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import type { DecisionTree } from '../../routing/types';
import { freshDecisionId, renameDecision, textIn, withText } from './TreeForm';

const tree: DecisionTree = {
  defaultLanguage: 'en',
  start: 'menu',
  decisions: [
    {
      id: 'menu',
      actions: [],
      next: {
        type: 'answer',
        question: { en: 'Help?', es: '¿Ayuda?' },
        choices: [{ id: 'a', title: 'Again', target: 'menu' }],
        default: 'step_2',
        timeout: { seconds: 600, target: 'menu' },
      },
    },
    { id: 'step_2', actions: [], next: { type: 'immediate', target: 'menu' } },
  ],
};

describe('the tree form', () => {
  it('edits the default language’s variant and keeps the others', () => {
    expect(textIn({ en: 'Help?', es: '¿Ayuda?' }, 'en')).toBe('Help?');
    expect(withText({ en: 'Help?', es: '¿Ayuda?' }, 'en', 'Hi?')).toEqual({ en: 'Hi?', es: '¿Ayuda?' });
    expect(withText('Help?', 'en', 'Hi?')).toBe('Hi?');
    expect(withText(undefined, 'en', 'Hi?')).toBe('Hi?');
  });

  it('renames a decision everywhere it is named: start, choices, default, timeout and steps', () => {
    const renamed = renameDecision(tree, 'menu', 'main');
    expect(renamed.start).toBe('main');
    const [menu, step] = renamed.decisions;
    expect(menu!.id).toBe('main');
    if (menu!.next.type !== 'answer') throw new Error('answer step expected');
    expect(menu!.next.choices[0]!.target).toBe('main');
    expect(menu!.next.timeout!.target).toBe('main');
    expect(menu!.next.default).toBe('step_2');
    expect(step!.next).toEqual({ type: 'immediate', target: 'main' });
  });

  it('picks a decision id the tree does not use', () => {
    expect(freshDecisionId(tree)).toBe('step_3');
    expect(freshDecisionId({ ...tree, decisions: [...tree.decisions, { id: 'step_3', actions: [], next: { type: 'immediate', target: 'menu' } }] })).toBe('step_4');
  });
});
