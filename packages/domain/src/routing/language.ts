import { francAll } from 'franc-min';
import { foldText } from './matching';

/*
 * The contact's language, among the languages a tree has texts in. In order: the language the
 * contact's profile or record gives (a locale such as es_MX); the text itself, by franc's trigram
 * model when it is long enough to tell related languages apart (and only when the best of all the
 * languages franc knows is one of the tree's) and by a short list of common
 * opening words (hola, obrigado, thanks) when it is not; else the tree's default language.
 */

/** ISO 639-1 to the ISO 639-3 codes franc answers with, for the languages franc-min knows. */
const TO_FRANC: Record<string, string> = {
  en: 'eng', es: 'spa', pt: 'por', fr: 'fra', de: 'deu', it: 'ita', nl: 'nld', id: 'ind', ms: 'zlm', vi: 'vie', tr: 'tur',
  pl: 'pol', ro: 'ron', hu: 'hun', cs: 'ces', sv: 'swe', ru: 'rus', uk: 'ukr', be: 'bel', bg: 'bul', kk: 'kaz', ar: 'arb',
  ur: 'urd', fa: 'pes', hi: 'hin', mr: 'mar', ne: 'npi', sw: 'swh', tl: 'tgl', ha: 'hau', yo: 'yor', ig: 'ibo', zu: 'zul',
  so: 'som', hr: 'hrv', sr: 'srp', bs: 'bos', uz: 'uzn', az: 'azj', jv: 'jav', rw: 'kin', ln: 'lin',
};

/** Words that, alone, say which language a short message is in (accents folded, lower case). */
const MARKERS: Record<string, string[]> = {
  es: ['hola', 'gracias', 'buenos', 'buenas', 'necesito', 'quiero', 'ayuda', 'favor', 'si', 'tengo', 'estoy', 'usted', 'pedido', 'donde', 'cuando', 'ahora', 'hablar', 'informacion', 'quisiera'],
  pt: ['ola', 'oi', 'obrigado', 'obrigada', 'bom', 'boa', 'preciso', 'quero', 'ajuda', 'sim', 'nao', 'voce', 'estou', 'tenho', 'pedido', 'onde', 'quando', 'agora', 'falar', 'informacao', 'gostaria'],
  en: ['hi', 'hello', 'hey', 'thanks', 'thank', 'please', 'need', 'want', 'help', 'yes', 'good', 'morning', 'order', 'where', 'when', 'now', 'talk', 'speak', 'information', 'would', 'the', 'my', 'is'],
  fr: ['bonjour', 'salut', 'merci', 'besoin', 'aide', 'oui', 'non', 'commande', 'parler', 'voudrais', 'je', 'est'],
  de: ['hallo', 'danke', 'bitte', 'brauche', 'hilfe', 'ja', 'nein', 'bestellung', 'sprechen', 'ich', 'ist'],
  it: ['ciao', 'grazie', 'buongiorno', 'aiuto', 'bisogno', 'voglio', 'ordine', 'parlare', 'vorrei'],
};

/** Shorter texts than this are judged by their words: trigrams do not separate Spanish from Portuguese in a few words. */
const MIN_TRIGRAM_LENGTH = 25;

/** The language part of a locale (`es_MX`, `pt-BR`, `en`), lower case. */
function baseLanguage(locale: string): string {
  return locale.trim().split(/[-_]/)[0]!.toLowerCase();
}

function byMarkers(text: string, languages: readonly string[]): string | undefined {
  const words = foldText(text).split(/[^a-z0-9]+/).filter(Boolean);
  let best: string | undefined;
  let bestScore = 0;
  let tie = false;
  for (const language of languages) {
    const markers = MARKERS[language];
    if (!markers) continue;
    const score = words.filter((w) => markers.includes(w)).length;
    if (score > bestScore) [best, bestScore, tie] = [language, score, false];
    else if (score === bestScore && score > 0) tie = true;
  }
  return tie ? undefined : best;
}

function byTrigrams(text: string, languages: readonly string[]): string | undefined {
  const codes = languages.map((l) => TO_FRANC[l] ?? l);
  // Ranked among all of franc-min's languages, so French is not taken for the closest of Spanish and Portuguese.
  const ranked = francAll(text, { minLength: MIN_TRIGRAM_LENGTH });
  const [top] = ranked;
  if (!top || !codes.includes(top[0])) return undefined;
  // A close runner-up among the tree's languages (Spanish and Portuguese often are one) leaves it to the word list.
  const runnerUp = ranked.find(([code]) => code !== top[0] && codes.includes(code));
  if (runnerUp && top[1] - runnerUp[1] < 0.05) return undefined;
  return languages[codes.indexOf(top[0])];
}

export interface LanguageChoice {
  /** The tree's languages; the default is used when none fits. */
  languages: readonly string[];
  defaultLanguage: string;
}

/** The language to answer in, among the tree's (see above for the order of evidence). */
export function detectLanguage(profileLocale: string | null | undefined, text: string | null | undefined, tree: LanguageChoice): string {
  const languages = [...new Set([tree.defaultLanguage, ...tree.languages])];
  if (languages.length === 1) return tree.defaultLanguage;
  if (profileLocale) {
    const base = baseLanguage(profileLocale);
    if (languages.includes(base)) return base;
  }
  const t = (text ?? '').trim();
  if (!t) return tree.defaultLanguage;
  return (t.length >= MIN_TRIGRAM_LENGTH ? byTrigrams(t, languages) : undefined) ?? byMarkers(t, languages) ?? tree.defaultLanguage;
}

/** The variant of a text in a language, else in the default language. */
export function pickLanguage(text: string | Record<string, string>, language: string, defaultLanguage: string): string {
  if (typeof text === 'string') return text;
  return text[language] ?? text[defaultLanguage] ?? Object.values(text)[0] ?? '';
}
