import type { OutboundContent } from '../sending';
import { pickLanguage } from './language';
import { listedChoices, replyId } from './matching';
import { fillTemplate, type PlaceholderSources } from './placeholders';
import type { Choice, Decision } from './tree';

/*
 * A question and its choices as WhatsApp shows them natively (Meta Cloud API interactive
 * messages): up to 3 choices as reply buttons, up to 10 as a list, more as numbered text lines.
 * Choices without a title are not shown (they are matched by pattern or similar words only).
 * Whatever the contact types instead of pressing is still matched (titles, numbers, words).
 */

/** Meta's limits for interactive messages. */
export const WHATSAPP_LIMITS = {
  buttons: 3,
  buttonTitle: 20,
  buttonBody: 1024,
  listRows: 10,
  listRowTitle: 24,
  listRowDescription: 72,
  listButton: 20,
  listBody: 4096,
  text: 4096,
} as const;

export interface RenderOptions {
  /** The tree's default language, for texts without a variant in `language`. */
  defaultLanguage?: string | undefined;
  /** The decision the choices belong to: reply ids are `<decision>/<choice>`. Without it, the bare choice ids. */
  decisionId?: string | undefined;
  /** The list's button text (default "Options"); per language or one. */
  buttonText?: string | Record<string, string> | undefined;
}

const DEFAULT_BUTTON_TEXT: Record<string, string> = { en: 'Options', es: 'Opciones', pt: 'Opções', fr: 'Options', de: 'Optionen', it: 'Opzioni' };

function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

const length = (text: string) => [...text].length;

/** The question with its choices as the OutboundContent the send path takes. */
export function renderChoices(question: string, choices: readonly Choice[], language: string, options: RenderOptions = {}): OutboundContent {
  const fallback = options.defaultLanguage ?? language;
  const shown = listedChoices(choices).map((c) => ({
    id: options.decisionId === undefined ? c.id : replyId(options.decisionId, c.id),
    title: pickLanguage(c.title!, language, fallback),
    description: c.description === undefined ? undefined : pickLanguage(c.description, language, fallback),
  }));
  if (shown.length === 0) return { type: 'text', text: cut(question, WHATSAPP_LIMITS.text) };

  // Buttons cannot show descriptions, so choices with one go in a list.
  if (
    shown.length <= WHATSAPP_LIMITS.buttons &&
    length(question) <= WHATSAPP_LIMITS.buttonBody &&
    shown.every((c) => c.description === undefined && length(c.title) <= WHATSAPP_LIMITS.buttonTitle)
  ) {
    return {
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: question },
        action: { buttons: shown.map((c) => ({ type: 'reply', reply: { id: c.id, title: c.title } })) },
      },
    };
  }

  if (
    shown.length <= WHATSAPP_LIMITS.listRows &&
    length(question) <= WHATSAPP_LIMITS.listBody &&
    shown.every((c) => length(c.title) <= WHATSAPP_LIMITS.listRowTitle && (c.description === undefined || length(c.description) <= WHATSAPP_LIMITS.listRowDescription))
  ) {
    const button = options.buttonText === undefined ? (DEFAULT_BUTTON_TEXT[language] ?? 'Options') : pickLanguage(options.buttonText, language, fallback);
    return {
      type: 'interactive',
      interactive: {
        type: 'list',
        body: { text: question },
        action: {
          button: cut(button, WHATSAPP_LIMITS.listButton),
          sections: [{ rows: shown.map((c) => ({ id: c.id, title: c.title, ...(c.description === undefined ? {} : { description: c.description }) })) }],
        },
      },
    };
  }

  const lines = shown.map((c, i) => `${i + 1}. ${c.title}${c.description === undefined ? '' : ` — ${c.description}`}`).join('\n');
  const room = WHATSAPP_LIMITS.text - length(lines) - 2;
  return { type: 'text', text: room > 0 ? `${cut(question, room)}\n\n${lines}` : cut(`${question}\n\n${lines}`, WHATSAPP_LIMITS.text) };
}

/** A decision's question, its placeholders filled, with its choices rendered. */
export function renderQuestion(decision: Decision, language: string, defaultLanguage: string, sources: PlaceholderSources): OutboundContent {
  if (decision.next.type !== 'answer') throw new Error(`Decision ${decision.id} does not ask a question.`);
  const step = decision.next;
  const question = fillTemplate(pickLanguage(step.question, language, defaultLanguage), sources);
  return renderChoices(question, step.choices, language, { defaultLanguage, decisionId: decision.id, buttonText: step.buttonText });
}
