import { type FormEvent, useEffect, useState } from 'react';
import { problemsOf } from '../routing/problems';
import type { Problem } from '../routing/tree-layout';
import { useSession } from '../session';
import { ProblemList } from './routing/shared';

/** One keyword a line (or comma separated), trimmed, empty lines and repeats dropped. */
export function parseKeywords(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of text.split(/[\n,]/)) {
    const k = raw.trim();
    if (k && !seen.has(k.toLowerCase())) {
      seen.add(k.toLowerCase());
      out.push(k);
    }
  }
  return out;
}

interface Form {
  keywords: string;
  optInKeywords: string;
  confirm: boolean;
  confirmationText: string;
  optInConfirm: boolean;
  optInConfirmationText: string;
}

/** Words that opt a contact out of (or back into) messages, and the replies confirming it. */
export function OptOutPage() {
  const { client } = useSession();
  const [form, setForm] = useState<Form | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);

  useEffect(() => {
    void client.GET('/v1/settings/opt-out').then(({ data, error }) => {
      if (!data) return setProblems(problemsOf(error));
      setForm({
        keywords: data.keywords.join('\n'),
        optInKeywords: data.optInKeywords.join('\n'),
        confirm: data.confirmationText !== null,
        confirmationText: data.confirmationText ?? '',
        optInConfirm: data.optInConfirmationText !== null,
        optInConfirmationText: data.optInConfirmationText ?? '',
      });
    });
  }, [client]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!form) return;
    setStatus(null);
    const keywords = parseKeywords(form.keywords);
    if (!keywords.length) return setProblems([{ path: 'keywords', message: 'Keep at least one opt-out keyword: contacts must always be able to stop messages.' }]);
    const { data, error } = await client.PUT('/v1/settings/opt-out', {
      body: {
        keywords,
        optInKeywords: parseKeywords(form.optInKeywords),
        confirmationText: form.confirm ? form.confirmationText : null,
        optInConfirmationText: form.optInConfirm ? form.optInConfirmationText : null,
      },
    });
    if (!data) return setProblems(problemsOf(error));
    setProblems([]);
    setForm({ ...form, keywords: data.keywords.join('\n'), optInKeywords: data.optInKeywords.join('\n') });
    setStatus(`Saved: ${data.keywords.length} opt-out and ${data.optInKeywords.length} opt-in keyword${data.optInKeywords.length === 1 ? '' : 's'}.`);
  };

  return (
    <section className="page config" aria-labelledby="optout-title">
      <h1 id="optout-title">Opt-out keywords</h1>
      <p className="hint">
        A contact whose whole message is one of these words is opted out: templates and broadcasts are no longer sent to them. Matching ignores case and spaces around the word.
      </p>
      {!form ? (
        problems.length ? <ProblemList problems={problems} title="Could not load the settings:" /> : <p role="status">Loading…</p>
      ) : (
        <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="optout-title">
          <label htmlFor="optout-keywords">Opt-out keywords (one a line)</label>
          <textarea id="optout-keywords" rows={5} value={form.keywords} aria-invalid={problems.some((p) => p.path.startsWith('keywords')) || undefined} onChange={(e) => setForm({ ...form, keywords: e.target.value })} />
          <label className="check">
            <input type="checkbox" checked={form.confirm} onChange={(e) => setForm({ ...form, confirm: e.target.checked })} /> Confirm an opt-out with a reply
          </label>
          {form.confirm && (
            <>
              <label htmlFor="optout-confirmation">Opt-out confirmation</label>
              <textarea id="optout-confirmation" rows={2} required value={form.confirmationText} onChange={(e) => setForm({ ...form, confirmationText: e.target.value })} />
            </>
          )}
          <label htmlFor="optin-keywords">Opt-in keywords (one a line)</label>
          <textarea id="optin-keywords" rows={3} value={form.optInKeywords} onChange={(e) => setForm({ ...form, optInKeywords: e.target.value })} />
          <label className="check">
            <input type="checkbox" checked={form.optInConfirm} onChange={(e) => setForm({ ...form, optInConfirm: e.target.checked })} /> Confirm an opt-in with a reply
          </label>
          {form.optInConfirm && (
            <>
              <label htmlFor="optin-confirmation">Opt-in confirmation</label>
              <textarea id="optin-confirmation" rows={2} required value={form.optInConfirmationText} onChange={(e) => setForm({ ...form, optInConfirmationText: e.target.value })} />
            </>
          )}
          <ProblemList problems={problems} />
          <button type="submit">Save keywords</button>
          {status && <p role="status">{status}</p>}
        </form>
      )}
    </section>
  );
}
