import { type FieldProblem, ValidationError } from '@parley/core';
import safeRegex from 'safe-regex2';
import { z } from 'zod';
import { assertWebhookUrlShape } from '../webhooks/target';
import { pickLanguage } from './language';
import { foldText } from './matching';
import { checkTemplate, fillTemplate, placeholdersIn, TREE_PLACEHOLDERS, VARIABLE_NAME } from './placeholders';

/*
 * A decision tree: decisions that run their actions in order, then either go on at once or wait
 * for the contact's answer. The format is documented in docs/routing.md ("Decision trees"); the
 * schema checks shapes and sizes, validateTree checks what needs the whole tree and the
 * organization's routing objects (targets, reachability, loops, patterns, placeholders).
 */

/** Final destinations a decision can hand the chat to. `decision_tree` starts another tree. */
export const DESTINATION_KINDS = ['queue', 'time_condition', 'chatbot', 'assistant', 'terminate', 'decision_tree'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** Longest pattern accepted; longer ones are refused rather than analysed. */
export const MAX_PATTERN_LENGTH = 200;
/** A URL request may take at most this long. */
export const MAX_REQUEST_TIMEOUT_MS = 10_000;

const decisionId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'Use 1 to 64 letters, digits, _ or -.')
  .describe('A decision’s id, unique in its tree.');
const languageCode = z
  .string()
  .regex(/^[a-z]{2,3}$/, 'An ISO 639 language code in lower case, such as en or es.')
  .describe('An ISO 639-1 (or 639-3) language code.');
const variableName = z.string().regex(VARIABLE_NAME, 'Start with a letter; letters, digits and _ only; at most 64.');

/** A text in one language for every language, or per language: `{"en": "Hi", "es": "Hola"}` (the tree's default language required). */
function localized(max: number) {
  const one = z.string().trim().min(1).max(max);
  return z.union([one, z.record(languageCode, one)]);
}

export const destinationSchema = z
  .object({
    kind: z.enum(DESTINATION_KINDS),
    id: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .describe('The routing object’s id: required for queue, time_condition, chatbot and decision_tree; optional for terminate (a bare end); none for assistant (the channel’s).'),
  })
  .strict()
  .describe('A final destination.');

export const targetSchema = z
  .union([decisionId, destinationSchema])
  .describe('Where the chat goes: a decision of this tree (its id) or a final destination.');

const sendMessageAction = z
  .object({
    type: z.literal('send_message'),
    text: localized(4096).describe('The message, with placeholders; per language or one for all.'),
  })
  .strict();

const requestDataAction = z
  .object({
    type: z.literal('request_data'),
    variable: variableName.describe('The result (the response’s JSON, or its text) is saved as data.<variable>.'),
    url: z.string().min(1).max(2048).describe('An https URL; placeholders may fill the path and query, not the host.'),
    method: z.enum(['GET', 'POST']).default('GET'),
    body: z
      .record(z.string().min(1).max(64), z.string().max(1024))
      .optional()
      .describe('POST only: a JSON object of strings, each a text with placeholders.'),
    timeoutMs: z.number().int().min(100).max(MAX_REQUEST_TIMEOUT_MS).default(5000),
  })
  .strict();

const saveDataAction = z
  .object({
    type: z.literal('save_data'),
    key: variableName.describe('Saved on the conversation as data.<key>.'),
    value: z.string().max(1024).describe('A text with placeholders.'),
  })
  .strict();

const createTicketAction = z
  .object({
    type: z.literal('create_ticket'),
    subject: z.string().trim().min(1).max(200).describe('A text with placeholders; the ticket becomes the conversation’s linked request.'),
    description: z.string().max(4096).optional(),
  })
  .strict();

export const actionSchema = z.discriminatedUnion('type', [sendMessageAction, requestDataAction, saveDataAction, createTicketAction]);

export const choiceSchema = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'Use 1 to 64 letters, digits, _ . : or -.')
      .describe('Unique in the decision; the reply id of its button or list row.'),
    title: localized(24)
      .optional()
      .describe('Shown as a button (≤ 20 characters) or list row (≤ 24); a choice without a title is matched only by pattern or similar words.'),
    description: localized(72).optional().describe('Shown under a list row.'),
    pattern: z.string().min(1).optional().describe('A regular expression, matched case-insensitively against the typed text.'),
    similar: z.array(z.string().trim().min(1).max(100)).max(30).optional().describe('Words or phrases; matching forgives case, accents and small typos.'),
    target: targetSchema,
  })
  .strict();

const immediateNext = z.object({ type: z.literal('immediate'), target: targetSchema }).strict();
const answerNext = z
  .object({
    type: z.literal('answer'),
    question: localized(1024).describe('The question the choices are shown with.'),
    buttonText: localized(20).optional().describe('The list button’s text, when the choices render as a list (default “Options”).'),
    choices: z.array(choiceSchema).max(50),
    default: targetSchema.describe('Where any other answer goes.'),
    saveAs: variableName.optional().describe('Saves the contact’s answer text as data.<saveAs>.'),
    timeout: z
      .object({ seconds: z.number().int().min(60).max(7 * 24 * 3600), target: targetSchema })
      .strict()
      .optional()
      .describe('Where the chat goes when the question stays unanswered.'),
  })
  .strict();

export const decisionSchema = z
  .object({
    id: decisionId,
    name: z.string().max(100).optional().describe('For the people editing the tree.'),
    actions: z.array(actionSchema).max(20).default([]),
    next: z.discriminatedUnion('type', [immediateNext, answerNext]),
  })
  .strict();

export const decisionTreeSchema = z
  .object({
    defaultLanguage: languageCode.describe('Used when the contact’s language is none of the tree’s.'),
    languages: z.array(languageCode).max(20).optional().describe('Languages the texts have variants in; default: the default language alone.'),
    start: decisionId.describe('The first decision.'),
    decisions: z.array(decisionSchema).min(1).max(200),
  })
  .strict()
  .describe('A decision tree.')
  .meta({ id: 'DecisionTree' });

export type DecisionTree = z.infer<typeof decisionTreeSchema>;
export type DecisionTreeInput = z.input<typeof decisionTreeSchema>;
export type Decision = z.infer<typeof decisionSchema>;
export type Action = z.infer<typeof actionSchema>;
export type Choice = z.infer<typeof choiceSchema>;
export type Target = z.infer<typeof targetSchema>;
export type Destination = z.infer<typeof destinationSchema>;
export type AnswerStep = Extract<Decision['next'], { type: 'answer' }>;
export type LocalizedText = string | Record<string, string>;

export interface TreeValidationContext {
  /** Ids of the organization's routing objects, per kind (of the version being edited); a kind left out has none. */
  destinations: Partial<Record<Exclude<DestinationKind, 'assistant'>, Iterable<string>>>;
  /** The tree's own id, when it has one: a tree that restarts itself without waiting for an answer is a loop. */
  treeId?: string | undefined;
  /** The fixed placeholders texts may use (default TREE_PLACEHOLDERS); `data.<variable>` comes from the tree. */
  placeholders?: readonly string[] | undefined;
  /** Accept http request URLs (development and tests), as the partner-webhook rules do. */
  allowInsecureUrls?: boolean | undefined;
  /** Prefix of every problem's path, for a tree inside a larger body (`tree.`). */
  path?: string | undefined;
}

export function isDecisionTarget(target: Target): target is string {
  return typeof target === 'string';
}

/** The languages a tree speaks, the default first. */
export function treeLanguages(tree: Pick<DecisionTree, 'defaultLanguage' | 'languages'>): string[] {
  return [...new Set([tree.defaultLanguage, ...(tree.languages ?? [])])];
}

/** Every target a decision can go to, with its path relative to the decision. */
export function decisionTargets(decision: Decision): { target: Target; path: string; onAnswer: boolean }[] {
  const next = decision.next;
  if (next.type === 'immediate') return [{ target: next.target, path: 'next.target', onAnswer: false }];
  return [
    ...next.choices.map((c, i) => ({ target: c.target, path: `next.choices.${i}.target`, onAnswer: true })),
    { target: next.default, path: 'next.default', onAnswer: true },
    ...(next.timeout ? [{ target: next.timeout.target, path: 'next.timeout.target', onAnswer: true }] : []),
  ];
}

/** The variables a tree saves (save data keys, URL-result variables, saved answers): what `data.<name>` may name. */
export function treeVariables(tree: DecisionTree): Set<string> {
  const names = new Set<string>();
  for (const d of tree.decisions) {
    for (const a of d.actions) {
      if (a.type === 'request_data') names.add(a.variable);
      if (a.type === 'save_data') names.add(a.key);
    }
    if (d.next.type === 'answer' && d.next.saveAs) names.add(d.next.saveAs);
  }
  return names;
}

/**
 * The destinations a contact can reach from the start without answering anything: the routing
 * configuration uses it to refuse loops across trees and time conditions.
 */
export function immediateDestinations(tree: DecisionTree): Destination[] {
  const byId = new Map(tree.decisions.map((d) => [d.id, d]));
  const out: Destination[] = [];
  const seen = new Set<string>();
  let current: string | undefined = tree.start;
  while (current !== undefined && !seen.has(current)) {
    seen.add(current);
    const d = byId.get(current);
    if (!d || d.next.type !== 'immediate') return out;
    const t: Target = d.next.target;
    if (isDecisionTarget(t)) current = t;
    else {
      out.push(t);
      current = undefined;
    }
  }
  return out;
}

/**
 * Why a pattern may not be used, or null. Patterns are compiled with the flags matching uses
 * (`iu`); long ones and ones with nested quantifiers (the usual cause of catastrophic
 * backtracking, found by safe-regex2's star-height check) are refused.
 */
export function patternProblem(pattern: string): string | null {
  if (pattern.length > MAX_PATTERN_LENGTH) return `The pattern is longer than ${MAX_PATTERN_LENGTH} characters.`;
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'iu');
  } catch (err) {
    return `Not a valid regular expression: ${(err as Error).message}`;
  }
  if (!safeRegex(re)) return 'The pattern can take exponential time on some answers (nested repetition such as (a+)+); simplify it.';
  if (re.test('')) return 'The pattern matches an empty answer, so it would take every answer; anchor it or require a character.';
  return null;
}

function shownTitle(choice: Choice, language: string, defaultLanguage: string): string {
  return choice.title === undefined ? '' : pickLanguage(choice.title, language, defaultLanguage);
}

function localizedEntries(text: LocalizedText, path: string): { text: string; path: string; language?: string }[] {
  if (typeof text === 'string') return [{ text, path }];
  return Object.entries(text).map(([language, t]) => ({ text: t, path: `${path}.${language}`, language }));
}

/** Problems with a language-keyed text: a variant in an undeclared language, or none in the default language. */
function checkLanguages(text: LocalizedText, tree: DecisionTree, path: string): FieldProblem[] {
  if (typeof text === 'string') return [];
  const problems: FieldProblem[] = [];
  const languages = treeLanguages(tree);
  for (const language of Object.keys(text)) {
    if (!languages.includes(language)) problems.push({ path: `${path}.${language}`, message: `"${language}" is not one of the tree’s languages (${languages.join(', ')}).` });
  }
  if (!(tree.defaultLanguage in text)) problems.push({ path, message: `A variant in the default language (${tree.defaultLanguage}) is required.` });
  return problems;
}

function checkRequestUrl(url: string, context: TreeValidationContext, path: string): FieldProblem[] {
  const uses = placeholdersIn(url);
  // The host is fixed when the tree is saved, so the partner-webhook rules can be checked now; only the path and query are filled in.
  const probe = url.replace(/\{\{[^{}]*\}\}/g, 'x');
  let parsed: URL;
  try {
    parsed = new URL(probe);
  } catch {
    return [{ path, message: 'Not a valid absolute URL.' }];
  }
  const originEnd = probe.indexOf(parsed.host) + parsed.host.length;
  if (uses.some((u) => u.index < originEnd)) return [{ path, message: 'Placeholders may fill the URL’s path and query, not its scheme or host.' }];
  try {
    assertWebhookUrlShape(probe, { allowInsecure: context.allowInsecureUrls ?? false });
  } catch (err) {
    return [{ path, message: (err as Error).message.replace('The webhook URL', 'The URL') }];
  }
  return [];
}

/**
 * Everything wrong with a tree that its schema cannot see, each problem with the path of the
 * field at fault (for `errors: [{path, message}]`): duplicate ids, unknown targets, decisions no
 * path reaches, loops that never wait for the contact, unusable patterns, texts missing the
 * default language, placeholders without a source, request URLs the partner-webhook rules refuse.
 * An empty list means the tree can be saved.
 */
export function validateTree(tree: DecisionTree, context: TreeValidationContext): FieldProblem[] {
  const prefix = context.path ?? '';
  const problems: FieldProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path: prefix + path, message });
  const known = new Map<string, Set<string>>(
    Object.entries(context.destinations).map(([kind, ids]) => [kind, new Set(ids as Iterable<string>)]),
  );
  const variables = treeVariables(tree);
  const templateCheck = { allowed: context.placeholders ?? TREE_PLACEHOLDERS, variables };
  const template = (text: string, path: string) => {
    for (const p of checkTemplate(text, templateCheck, path)) add(p.path, p.message);
  };
  // A message is sent whatever its placeholders hold, and WhatsApp refuses an empty one.
  const localizedMessage = (text: LocalizedText, path: string) => {
    for (const p of checkLanguages(text, tree, path)) add(p.path, p.message);
    for (const e of localizedEntries(text, path)) {
      template(e.text, e.path);
      if (!fillTemplate(e.text, {}).trim()) add(e.path, 'Write some text besides placeholders (or give them a fallback): they may be empty when the message is sent.');
    }
  };
  const localizedPlain = (text: LocalizedText, path: string) => {
    for (const p of checkLanguages(text, tree, path)) add(p.path, p.message);
  };

  const index = new Map<string, number>();
  tree.decisions.forEach((d, i) => {
    if (index.has(d.id)) add(`decisions.${i}.id`, `Duplicate decision id "${d.id}" (also decisions.${index.get(d.id)}).`);
    else index.set(d.id, i);
  });
  if (!index.has(tree.start)) add('start', `No decision "${tree.start}" in this tree.`);

  const checkTarget = (target: Target, path: string) => {
    if (isDecisionTarget(target)) {
      if (!index.has(target)) add(path, `No decision "${target}" in this tree.`);
      return;
    }
    if (target.kind === 'assistant') {
      if (target.id !== undefined) add(`${path}.id`, 'The assistant is the channel’s own: give no id.');
      return;
    }
    if (target.id === undefined) {
      if (target.kind !== 'terminate') add(path, `A ${target.kind} destination needs an id.`);
      return;
    }
    if (!known.get(target.kind)?.has(target.id)) add(`${path}.id`, `No ${target.kind.replace('_', ' ')} "${target.id}".`);
  };

  tree.decisions.forEach((d, i) => {
    const at = `decisions.${i}`;
    d.actions.forEach((a, j) => {
      const ap = `${at}.actions.${j}`;
      switch (a.type) {
        case 'send_message':
          localizedMessage(a.text, `${ap}.text`);
          break;
        case 'request_data':
          for (const p of checkRequestUrl(a.url, context, `${ap}.url`)) add(p.path, p.message);
          template(a.url, `${ap}.url`);
          if (a.body && a.method !== 'POST') add(`${ap}.body`, 'Only a POST request has a body.');
          for (const [k, v] of Object.entries(a.body ?? {})) template(v, `${ap}.body.${k}`);
          break;
        case 'save_data':
          template(a.value, `${ap}.value`);
          break;
        case 'create_ticket':
          template(a.subject, `${ap}.subject`);
          if (a.description !== undefined) template(a.description, `${ap}.description`);
          break;
      }
    });
    if (d.next.type === 'answer') {
      const next = d.next;
      localizedMessage(next.question, `${at}.next.question`);
      if (next.buttonText !== undefined) localizedPlain(next.buttonText, `${at}.next.buttonText`);
      const choiceIds = new Map<string, number>();
      const titles = new Map<string, number>();
      next.choices.forEach((c, k) => {
        const cp = `${at}.next.choices.${k}`;
        if (choiceIds.has(c.id)) add(`${cp}.id`, `Duplicate choice id "${c.id}" (also choice ${choiceIds.get(c.id)}).`);
        else choiceIds.set(c.id, k);
        if (c.title === undefined && c.pattern === undefined && !c.similar?.length) {
          add(cp, 'A choice needs a title, a pattern or similar words, or nothing can select it.');
        }
        if (c.title !== undefined) {
          localizedPlain(c.title, `${cp}.title`);
          // Per language, as the contact sees them: a title for every language clashes with each variant.
          for (const language of treeLanguages(tree)) {
            const shown = pickLanguage(c.title, language, tree.defaultLanguage);
            const key = `${language}:${foldText(shown)}`;
            const other = titles.get(key);
            if (other === undefined) titles.set(key, k);
            else {
              add(`${cp}.title`, `In ${language}, choice ${other} has the same title ("${shownTitle(next.choices[other]!, language, tree.defaultLanguage)}").`);
              break;
            }
          }
        }
        if (c.description !== undefined) localizedPlain(c.description, `${cp}.description`);
        if (c.pattern !== undefined) {
          const why = patternProblem(c.pattern);
          if (why) add(`${cp}.pattern`, why);
        }
      });
    }
    for (const t of decisionTargets(d)) checkTarget(t.target, `${at}.${t.path}`);
  });

  // Decisions no path from the start reaches.
  if (index.has(tree.start)) {
    const reached = new Set<string>([tree.start]);
    const queue = [tree.start];
    while (queue.length) {
      const d = tree.decisions[index.get(queue.pop()!)!]!;
      for (const { target } of decisionTargets(d)) {
        if (isDecisionTarget(target) && index.has(target) && !reached.has(target)) {
          reached.add(target);
          queue.push(target);
        }
      }
    }
    tree.decisions.forEach((d, i) => {
      if (!reached.has(d.id) && index.get(d.id) === i) add(`decisions.${i}`, `No path from the start ("${tree.start}") reaches decision "${d.id}".`);
    });
  }

  // Loops of decisions that go on at once: each node has at most one immediate edge, so follow the chain from every decision.
  const reported = new Set<string>();
  for (const d of tree.decisions) {
    const chain: string[] = [];
    const onChain = new Map<string, number>();
    let current: string | undefined = d.id;
    while (current !== undefined && index.has(current) && !onChain.has(current)) {
      onChain.set(current, chain.length);
      chain.push(current);
      const next: Decision['next'] = tree.decisions[index.get(current)!]!.next;
      current = next.type === 'immediate' && isDecisionTarget(next.target) ? next.target : undefined;
    }
    if (current === undefined || !onChain.has(current)) continue;
    const loop = chain.slice(onChain.get(current));
    const first = [...loop].sort()[0]!;
    if (reported.has(first)) continue;
    reported.add(first);
    add(`decisions.${index.get(chain[chain.length - 1]!)}.next.target`, `These decisions go on to each other without waiting for an answer, forever: ${[...loop, current].join(' → ')}.`);
  }
  if (context.treeId !== undefined && immediateDestinations(tree).some((t) => t.kind === 'decision_tree' && t.id === context.treeId)) {
    const last = lastImmediate(tree, index);
    add(last === undefined ? 'start' : `decisions.${last}.next.target`, 'The tree starts itself again without waiting for an answer, forever.');
  }
  return problems;
}

function lastImmediate(tree: DecisionTree, index: Map<string, number>): number | undefined {
  let current = tree.start;
  const seen = new Set<string>();
  while (!seen.has(current) && index.has(current)) {
    seen.add(current);
    const i = index.get(current)!;
    const next = tree.decisions[i]!.next;
    if (next.type !== 'immediate') return undefined;
    if (!isDecisionTarget(next.target)) return i;
    current = next.target;
  }
  return undefined;
}

/** Parses and validates a tree, throwing ValidationError (400 with `errors`) when it cannot be saved. */
export function parseTree(input: unknown, context: TreeValidationContext): DecisionTree {
  const prefix = context.path ?? '';
  const parsed = decisionTreeSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues.map((i) => ({ path: prefix + i.path.join('.'), message: i.message })));
  }
  const problems = validateTree(parsed.data, context);
  if (problems.length) throw new ValidationError(problems, 'The decision tree is not valid.');
  return parsed.data;
}
