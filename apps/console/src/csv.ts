import Papa from 'papaparse';

/** One CSV line: its number in the file (the header is line 1), the phone and its template params. */
export interface RecipientRow {
  line: number;
  phone: string;
  params: Record<string, string>;
  problems: string[];
}

const PHONE = /^\+?[\d\s().-]{6,32}$/;

/**
 * Reads recipients from CSV: a header row naming `phone` and one column per template parameter
 * (`header`, `1`, `2` or the named variables). Rows without a usable phone are kept, with the
 * problem, so they can be shown rather than sent.
 */
export function parseRecipients(text: string): { rows: RecipientRow[]; error: string | null } {
  const parsed = Papa.parse<Record<string, string>>(text.trim(), { header: true, skipEmptyLines: 'greedy', transformHeader: (h) => h.trim() });
  const fields = parsed.meta.fields ?? [];
  if (!fields.includes('phone')) return { rows: [], error: 'The first row must name the columns, one of them `phone`.' };
  const rows = parsed.data.map((record, i) => {
    const phone = (record.phone ?? '').trim();
    const params: Record<string, string> = {};
    for (const field of fields) if (field !== 'phone' && field && record[field] !== undefined && record[field] !== '') params[field] = record[field]!.trim();
    const problems = PHONE.test(phone) && phone.replace(/\D/g, '').length >= 6 ? [] : [`phone: “${phone}” is not a phone number`];
    return { line: i + 2, phone, params, problems };
  });
  for (const e of parsed.errors) {
    const row = e.row !== undefined ? rows[e.row] : undefined;
    if (row) row.problems.push(e.message);
  }
  return { rows, error: rows.length ? null : 'The CSV has no recipients.' };
}

/**
 * Puts the validate endpoint's problems (`recipients.<i>.params.<key>: message`) on the rows they
 * name; `checked` are the rows that were sent for checking, in order.
 */
export function attachProblems(checked: RecipientRow[], problems: Array<{ path?: string; message?: string }>): string[] {
  const general: string[] = [];
  for (const p of problems) {
    const m = /^recipients\.(\d+)\.(.*)$/.exec(p.path ?? '');
    const row = m ? checked[Number(m[1])] : undefined;
    if (row) row.problems.push(`${m![2]}: ${p.message ?? 'invalid'}`);
    else general.push(`${p.path ? `${p.path}: ` : ''}${p.message ?? 'invalid'}`);
  }
  return general;
}

interface TemplateDefinition {
  parameterFormat?: 'POSITIONAL' | 'NAMED';
  components: unknown[];
}

/**
 * Meta's send components for a template whose every text variable is a {{ placeholder }} named
 * after its CSV column (`header`, `1`, `first_name`...), so each recipient's row fills them.
 */
export function placeholderComponents(template: TemplateDefinition): Record<string, unknown>[] {
  const named = template.parameterFormat === 'NAMED';
  const out: Record<string, unknown>[] = [];
  for (const c of template.components) {
    if (!c || typeof c !== 'object') continue;
    const { type, text, format } = c as { type?: string; text?: string; format?: string };
    const vars = typeof text === 'string' ? [...new Set([...text.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)].map((m) => m[1]!))] : [];
    const param = (name: string, column: string) => ({ type: 'text', ...(named ? { parameter_name: name } : {}), text: `{{${column}}}` });
    if (type === 'HEADER' && (format ?? 'TEXT') === 'TEXT' && vars.length) out.push({ type: 'header', parameters: [param(vars[0]!, 'header')] });
    if (type === 'BODY' && vars.length) out.push({ type: 'body', parameters: vars.map((v) => param(v, v)) });
  }
  return out;
}

/** Marks rows that leave a template variable empty: Meta refuses an empty parameter. */
export function requireParams(rows: RecipientRow[], keys: string[]): void {
  for (const row of rows) for (const key of keys) if (!row.params[key]) row.problems.push(`params.${key}: no value for {{${key}}}`);
}
