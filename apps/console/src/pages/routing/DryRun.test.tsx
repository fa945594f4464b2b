// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import type { RoutingDocument } from '../../routing/types';
import { describeStep } from './DryRun';

const doc = {
  queues: [{ id: 'q1', name: 'Sales', priority: 0, agentIds: [], autoResponse: null }],
  timeGroups: [{ id: 'g1', name: 'Office', weekly: {}, holidays: [], overrides: [], includes: [] }],
  timeConditions: [{ id: 'tc1', name: 'Office hours', timeGroupId: 'g1', whenOpen: { kind: 'queue', id: 'q1' }, whenClosed: { kind: 'terminate' } }],
  decisionTrees: [{ id: 't1', name: 'Welcome menu', tree: { defaultLanguage: 'en', start: 'menu', decisions: [] } }],
  chatbots: [],
  terminates: [],
  channels: [],
} as unknown as RoutingDocument;

describe('the dry run’s route in words', () => {
  it('names the objects of each step', () => {
    expect(describeStep({ kind: 'channel', channelId: 'c', version: 4, first: { kind: 'time_condition', id: 'tc1' } }, doc)).toBe(
      'The number’s routing (version 4) sends it to Time condition Office hours',
    );
    expect(describeStep({ kind: 'time_condition', timeConditionId: 'tc1', timeGroupId: 'g1', open: false }, doc)).toBe('Office hours: Office is closed');
    expect(describeStep({ kind: 'decision', treeId: 't1', decisionId: 'menu', answer: { choiceId: 'sales', reason: 'similar' } }, doc)).toBe(
      'Tree Welcome menu: decision menu, answered choice sales (similar words)',
    );
    expect(describeStep({ kind: 'decision', treeId: 't1', decisionId: 'menu', answer: { choiceId: null, reason: 'no_match' } }, doc)).toBe(
      'Tree Welcome menu: decision menu, answered with no matching choice (no choice matched)',
    );
    expect(describeStep({ kind: 'actions', treeId: 't1', decisionId: 'welcome', actions: ['send_message', 'create_ticket'] }, doc)).toBe(
      'Tree Welcome menu: decision welcome runs send_message, create_ticket',
    );
    expect(describeStep({ kind: 'question', treeId: 't1', decisionId: 'menu', actions: [] }, doc)).toBe('Tree Welcome menu: decision menu asks its question and waits for the answer');
  });
});
