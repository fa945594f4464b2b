import { distance } from 'fastest-levenshtein';
import type { Choice, Decision, Target } from './tree';

/*
 * Which choice a contact's answer selects. In order, the first that applies wins:
 *   1. a button or list reply whose id is the choice's (`<decision>/<choice>`, or the bare choice
 *      id, as a template's quick-reply payload carries it);
 *   2. the typed text equal to a choice's title in any of its languages (case and accents aside);
 *   3. the typed text being a choice's number in the list shown ("2", "2.", "#2", "option 2",
 *      "two", "dos", "dois");
 *   4. a choice's pattern (regular expression, case-insensitive), tried on the text as typed and
 *      without accents;
 *   5. similar words: a choice's word or phrase in the text, forgiving case, accents and small
 *      typos (one letter in 4–5 letter words, two in longer ones; a swap of two
 *      letters counts as two), then the titles the same way;
 *   6. else the default answer.
 * A reply from buttons of another decision is taken as if its title had been typed.
 */

/** Answers are cut to this length before patterns run, so a pattern's cost stays bounded. */
export const MAX_ANSWER_LENGTH = 1000;

/** Lower case, accents and other combining marks removed, punctuation as spaces, spaces collapsed. */
export function foldText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

export type AnswerInput =
  | string
  | {
      /** What the contact typed, or the title of the button or row pressed. */
      text?: string | null | undefined;
      /** The id of the reply button or list row pressed, or a quick-reply button's payload. */
      replyId?: string | null | undefined;
    };

export type MatchReason = 'reply_id' | 'title' | 'number' | 'pattern' | 'similar';

export type AnswerMatch =
  | {
      kind: 'choice';
      choice: Choice;
      /** The choice's index in the decision's choices. */
      index: number;
      target: Target;
      reason: MatchReason;
      /** What matched: the reply id, the title, the number, the matched text, or the similar word. */
      matched: string;
      /** Letters changed between the answer and the word (similar words and fuzzy titles). */
      typos?: number;
    }
  | { kind: 'default'; target: Target; reason: 'no_match' | 'empty' };

/**
 * What an inbound message answers, from its stored type and content (message-content.ts): the
 * text; a button or list reply's id and title; a template quick-reply's payload and text; a
 * media caption. Null for a message that says nothing (a sticker, a location, a reaction), which
 * leaves the question waiting.
 */
export function answerFromMessage(message: { type: string; content: Record<string, unknown> }): AnswerInput | null {
  const c = message.content;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const obj = (v: unknown) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  switch (message.type) {
    case 'text':
      return { text: str(c.text) };
    case 'interactive': {
      const reply = obj(c.interactive);
      if (reply.kind !== 'button_reply' && reply.kind !== 'list_reply') return null;
      return { replyId: str(reply.id), text: str(reply.title) };
    }
    case 'button': {
      const button = obj(c.button);
      return { replyId: str(button.payload), text: str(button.text) };
    }
    case 'image':
    case 'video':
    case 'document': {
      const caption = str(obj(c.media).caption);
      return caption ? { text: caption } : null;
    }
    default:
      return null;
  }
}

/** The choices shown to the contact (those with a title), in order: what numbers refer to. */
export function listedChoices(choices: readonly Choice[]): Choice[] {
  return choices.filter((c) => c.title !== undefined);
}

/** The id a choice's button or list row carries: its decision's id and its own, so a stale button from another question is not mistaken for this one's. */
export function replyId(decisionId: string, choiceId: string): string {
  return `${decisionId}/${choiceId}`;
}

function titles(choice: Choice): string[] {
  if (choice.title === undefined) return [];
  return typeof choice.title === 'string' ? [choice.title] : Object.values(choice.title);
}

const NUMBER_WORDS: Record<string, number> = Object.fromEntries(
  [
    ['one', 'uno', 'una', 'um', 'uma'],
    ['two', 'dos', 'dois', 'duas'],
    ['three', 'tres'],
    ['four', 'cuatro', 'quatro'],
    ['five', 'cinco'],
    ['six', 'seis'],
    ['seven', 'siete', 'sete'],
    ['eight', 'ocho', 'oito'],
    ['nine', 'nueve', 'nove'],
    ['ten', 'diez', 'dez'],
  ].flatMap((words, i) => words.map((w) => [w, i + 1])),
);

/** The number an answer names ("2", "2.", "#2", "option 2", "dos"), or null. */
export function answerNumber(text: string): number | null {
  const m = /^\s*(?:#|n[o°º]\.?\s*|(?:option|opcion|opción|opção|opcao)\s*)?(\d{1,3})\s*[.)\-:]?\s*$/iu.exec(text);
  if (m) return Number(m[1]);
  return NUMBER_WORDS[foldText(text)] ?? null;
}

/** Letters that may differ for a word of this length to still count. */
function tolerance(length: number): number {
  if (length <= 3) return 0;
  return length <= 5 ? 1 : 2;
}

/**
 * How many letters the text must change to contain the phrase (as whole words), or null when
 * more than the phrase's words forgive. Both are folded.
 */
function phraseTypos(words: string[], phrase: string): number | null {
  const target = phrase.split(' ');
  let best: number | null = null;
  for (let i = 0; i + target.length <= words.length; i++) {
    let total = 0;
    let ok = true;
    for (let j = 0; j < target.length && ok; j++) {
      const want = target[j]!;
      const got = words[i + j]!;
      // Digits are not typos of each other: "order 123" must not match "order 124".
      const allowed = tolerance(want.length);
      // Words whose lengths differ by more than the tolerance cannot be close: skip the distance.
      const d = got === want ? 0 : /\d/.test(want) || Math.abs(got.length - want.length) > allowed ? Infinity : distance(got, want);
      if (d > allowed) ok = false;
      else total += d;
    }
    if (ok && (best === null || total < best)) best = total;
  }
  return best;
}

function patternMatch(pattern: string, text: string): string | null {
  const re = new RegExp(pattern, 'iu');
  const m = re.exec(text) ?? re.exec(text.normalize('NFD').replace(/\p{M}/gu, ''));
  return m ? m[0] : null;
}

/** The choice a contact's answer selects, and why; or the default answer. */
export function matchAnswer(decision: Decision, input: AnswerInput): AnswerMatch {
  if (decision.next.type !== 'answer') throw new Error(`Decision ${decision.id} does not wait for an answer.`);
  const step = decision.next;
  const choices = step.choices;
  const found = (index: number, reason: MatchReason, matched: string, typos?: number): AnswerMatch => ({
    kind: 'choice',
    choice: choices[index]!,
    index,
    target: choices[index]!.target,
    reason,
    matched,
    ...(typos === undefined ? {} : { typos }),
  });

  const { text: rawText, replyId: reply } = typeof input === 'string' ? { text: input, replyId: undefined } : input;
  if (reply) {
    const own = `${decision.id}/`;
    const id = reply.startsWith(own) ? reply.slice(own.length) : reply.includes('/') ? undefined : reply;
    const index = id === undefined ? -1 : choices.findIndex((c) => c.id === id);
    if (index >= 0) return found(index, 'reply_id', reply);
  }

  const text = (rawText ?? '').slice(0, MAX_ANSWER_LENGTH).trim();
  const folded = foldText(text);
  if (!folded && !text) return { kind: 'default', target: step.default, reason: 'empty' };

  for (let i = 0; i < choices.length; i++) {
    const title = titles(choices[i]!).find((t) => foldText(t) === folded);
    if (title !== undefined && folded) return found(i, 'title', title);
  }

  const n = answerNumber(text);
  const listed = listedChoices(choices);
  if (n !== null && n >= 1 && n <= listed.length) return found(choices.indexOf(listed[n - 1]!), 'number', String(n));

  for (let i = 0; i < choices.length; i++) {
    const pattern = choices[i]!.pattern;
    if (pattern === undefined) continue;
    const m = patternMatch(pattern, text);
    if (m !== null) return found(i, 'pattern', m);
  }

  // Similar words before titles, and the fewest typos overall; the earlier choice wins a tie.
  const words = folded.split(' ');
  for (const source of ['similar', 'title'] as const) {
    let best: { index: number; word: string; typos: number } | undefined;
    for (let i = 0; i < choices.length; i++) {
      const c = choices[i]!;
      for (const word of source === 'similar' ? (c.similar ?? []) : titles(c)) {
        const phrase = foldText(word);
        if (!phrase) continue;
        const typos = phraseTypos(words, phrase);
        if (typos !== null && (!best || typos < best.typos)) best = { index: i, word, typos };
      }
    }
    if (best) return found(best.index, 'similar', best.word, best.typos);
  }
  return { kind: 'default', target: step.default, reason: 'no_match' };
}
