import { useId } from 'react';
import { describeAction } from './TreeDiagram';
import type { Problem } from '../../routing/tree-layout';
import { type Decision, DESTINATION_KINDS, type DecisionTree, type DestinationKind, type Target } from '../../routing/types';
import { useRouting } from './shared';

type Localized = string | Record<string, string>;
type AnswerNext = Extract<Decision['next'], { type: 'answer' }>;
type Choice = AnswerNext['choices'][number];

/** The default language's variant of a text (the one the form edits); other variants stay as they are. */
export function textIn(value: Localized | undefined, language: string): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : (value[language] ?? '');
}

export function withText(value: Localized | undefined, language: string, text: string): Localized {
  if (value === undefined || typeof value === 'string') return text;
  return { ...value, [language]: text };
}

/** A fresh decision id that the tree does not use yet. */
export function freshDecisionId(tree: DecisionTree): string {
  const used = new Set(tree.decisions.map((d) => d.id));
  let n = tree.decisions.length + 1;
  while (used.has(`step_${n}`)) n++;
  return `step_${n}`;
}

/** Renames a decision and every target in the tree that names it. */
export function renameDecision(tree: DecisionTree, from: string, to: string): DecisionTree {
  const fix = (t: Target): Target => (t === from ? to : t);
  return {
    ...tree,
    start: tree.start === from ? to : tree.start,
    decisions: tree.decisions.map((d) => {
      const id = d.id === from ? to : d.id;
      const next: Decision['next'] =
        d.next.type === 'immediate'
          ? { ...d.next, target: fix(d.next.target) }
          : {
              ...d.next,
              default: fix(d.next.default),
              choices: d.next.choices.map((c) => ({ ...c, target: fix(c.target) })),
              ...(d.next.timeout ? { timeout: { ...d.next.timeout, target: fix(d.next.timeout.target) } } : {}),
            };
      return { ...d, id, next };
    }),
  };
}

/** Where a choice or step goes: a decision of this tree, or a final destination from the draft. */
function TargetPicker({ label, value, tree, onChange, invalid }: { label: string; value: Target; tree: DecisionTree; onChange: (t: Target) => void; invalid?: boolean }) {
  const { doc } = useRouting();
  const id = useId();
  const first = typeof value === 'string' ? `decision:${value}` : `kind:${value.kind}`;
  const meta = typeof value === 'string' ? undefined : DESTINATION_KINDS.find((k) => k.kind === value.kind);
  const objects = meta?.collection ? (doc[meta.collection] as { id: string; name: string }[]) : [];
  const choose = (v: string) => {
    if (v.startsWith('decision:')) return onChange(v.slice(9));
    const kind = v.slice(5) as DestinationKind;
    const m = DESTINATION_KINDS.find((k) => k.kind === kind)!;
    const firstObject = m.collection && kind !== 'terminate' ? (doc[m.collection] as { id: string }[])[0] : undefined;
    onChange(firstObject ? { kind, id: firstObject.id } : { kind });
  };
  return (
    <span className="target-picker">
      <label htmlFor={`${id}-t`}>{label}</label>
      <select id={`${id}-t`} value={first} onChange={(e) => choose(e.target.value)} aria-invalid={invalid || undefined}>
        <optgroup label="A decision of this tree">
          {tree.decisions.map((d) => (
            <option key={d.id} value={`decision:${d.id}`}>
              Decision {d.id}
            </option>
          ))}
          {typeof value === 'string' && !tree.decisions.some((d) => d.id === value) && <option value={`decision:${value}`}>Unknown decision {value}</option>}
        </optgroup>
        <optgroup label="Hand the chat to">
          {DESTINATION_KINDS.map((k) => (
            <option key={k.kind} value={`kind:${k.kind}`}>
              {k.label}
            </option>
          ))}
        </optgroup>
      </select>
      {typeof value !== 'string' && meta?.collection && (
        <>
          <label htmlFor={`${id}-o`} className="visually-hidden">
            {label}: which {meta.label.toLowerCase()}
          </label>
          <select id={`${id}-o`} value={value.id ?? ''} aria-invalid={invalid || undefined} onChange={(e) => onChange(e.target.value ? { kind: value.kind, id: e.target.value } : { kind: value.kind })}>
            {value.kind === 'terminate' ? <option value="">Just end the chat</option> : !objects.length && <option value="">None in the draft yet</option>}
            {objects.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
          </select>
        </>
      )}
    </span>
  );
}

const splitWords = (text: string) =>
  text
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);

/**
 * The tree as a form: each decision's messages, and either where it goes next or the question it
 * asks with its choices, default and timeout. Other actions (requests, saved data, tickets) and
 * per-language variants are shown and kept, and edited in the JSON.
 */
export function TreeForm({ tree, onChange, problems }: { tree: DecisionTree; onChange: (t: DecisionTree) => void; problems: Problem[] }) {
  const lang = tree.defaultLanguage;
  const setDecision = (i: number, d: Decision) => onChange({ ...tree, decisions: tree.decisions.map((x, j) => (j === i ? d : x)) });
  const addDecision = () => onChange({ ...tree, decisions: [...tree.decisions, { id: freshDecisionId(tree), actions: [], next: { type: 'immediate', target: { kind: 'terminate' } } }] });
  const removeDecision = (i: number) => onChange({ ...tree, decisions: tree.decisions.filter((_, j) => j !== i) });
  const problemsAt = (prefix: string) => problems.filter((p) => p.path === prefix || p.path.startsWith(`${prefix}.`));
  return (
    <div className="tree-form stack">
      <div className="grid-2">
        <span className="stack">
          <label htmlFor="tree-start">First decision</label>
          <select id="tree-start" value={tree.start} onChange={(e) => onChange({ ...tree, start: e.target.value })}>
            {tree.decisions.map((d) => (
              <option key={d.id} value={d.id}>
                {d.id}
              </option>
            ))}
          </select>
        </span>
        <span className="stack">
          <label htmlFor="tree-lang">Default language</label>
          <input id="tree-lang" value={tree.defaultLanguage} maxLength={3} onChange={(e) => onChange({ ...tree, defaultLanguage: e.target.value.trim().toLowerCase() })} />
        </span>
      </div>
      {tree.decisions.map((d, i) => (
        <DecisionForm
          key={i}
          index={i}
          decision={d}
          tree={tree}
          lang={lang}
          problems={problemsAt(`decisions.${i}`)}
          onChange={(next) => setDecision(i, next)}
          onRename={(to) => onChange(renameDecision(tree, d.id, to))}
          onRemove={tree.decisions.length > 1 ? () => removeDecision(i) : undefined}
        />
      ))}
      <button type="button" className="secondary" onClick={addDecision}>
        Add decision
      </button>
    </div>
  );
}

function DecisionForm({
  index,
  decision: d,
  tree,
  lang,
  problems,
  onChange,
  onRename,
  onRemove,
}: {
  index: number;
  decision: Decision;
  tree: DecisionTree;
  lang: string;
  problems: Problem[];
  onChange: (d: Decision) => void;
  onRename: (id: string) => void;
  onRemove?: () => void;
}) {
  const id = useId();
  const next = d.next;
  const setNext = (n: Decision['next']) => onChange({ ...d, next: n });
  const messages = d.actions.map((a, i) => ({ a, i })).filter(({ a }) => a.type === 'send_message');
  const others = d.actions.filter((a) => a.type !== 'send_message');
  const setChoice = (j: number, c: Choice) => next.type === 'answer' && setNext({ ...next, choices: next.choices.map((x, k) => (k === j ? c : x)) });
  const bad = (path: string) => problems.some((p) => p.path === `decisions.${index}.${path}` || p.path.startsWith(`decisions.${index}.${path}.`));
  return (
    <details className="decision-form" open={problems.length > 0 || tree.decisions.length <= 3}>
      <summary>
        Decision {d.id}
        {d.name && ` (${d.name})`}
        {problems.length > 0 && <span className="error"> — {problems.length} problem{problems.length === 1 ? '' : 's'}</span>}
      </summary>
      <div className="stack">
        {problems.length > 0 && (
          <ul className="problems" aria-label={`Problems of decision ${d.id}`}>
            {problems.map((p, k) => (
              <li key={k}>
                <code>{p.path}</code> {p.message}
              </li>
            ))}
          </ul>
        )}
        <div className="grid-2">
          <span className="stack">
            <label htmlFor={`${id}-id`}>Decision id</label>
            <input
              id={`${id}-id`}
              value={d.id}
              pattern="[A-Za-z0-9_\-]{1,64}"
              aria-invalid={bad('id') || undefined}
              onChange={(e) => onRename(e.target.value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64))}
            />
          </span>
          <span className="stack">
            <label htmlFor={`${id}-name`}>Name (for editors)</label>
            <input id={`${id}-name`} value={d.name ?? ''} maxLength={100} onChange={(e) => onChange({ ...d, ...(e.target.value ? { name: e.target.value } : { name: undefined }) })} />
          </span>
        </div>
        <fieldset>
          <legend>Messages sent first</legend>
          {messages.map(({ a, i }, k) => (
            <div key={i} className="row end">
              <span className="stack grow">
                <label htmlFor={`${id}-m${i}`}>
                  Message {k + 1} of decision {d.id}
                </label>
                <textarea
                  id={`${id}-m${i}`}
                  rows={2}
                  value={a.type === 'send_message' ? textIn(a.text, lang) : ''}
                  aria-invalid={bad(`actions.${i}`) || undefined}
                  onChange={(e) => onChange({ ...d, actions: d.actions.map((x, j) => (j === i && x.type === 'send_message' ? { ...x, text: withText(x.text, lang, e.target.value) } : x)) })}
                />
              </span>
              <button type="button" className="link" onClick={() => onChange({ ...d, actions: d.actions.filter((_, j) => j !== i) })} aria-label={`Remove message ${k + 1} of decision ${d.id}`}>
                Remove
              </button>
            </div>
          ))}
          {others.length > 0 && (
            <ul className="hint">
              {others.map((a, k) => (
                <li key={k}>{describeAction(a, lang)} (edit in JSON)</li>
              ))}
            </ul>
          )}
          <button type="button" className="secondary small" onClick={() => onChange({ ...d, actions: [...d.actions, { type: 'send_message', text: '' }] })}>
            Add message
          </button>
        </fieldset>
        <fieldset className="inline">
          <legend>Then</legend>
          <label className="check">
            <input type="radio" name={`${id}-next`} checked={next.type === 'immediate'} onChange={() => setNext({ type: 'immediate', target: next.type === 'answer' ? next.default : next.target })} /> Go on at once
          </label>
          <label className="check">
            <input
              type="radio"
              name={`${id}-next`}
              checked={next.type === 'answer'}
              onChange={() => setNext({ type: 'answer', question: '', choices: [], default: next.type === 'immediate' ? next.target : next.default })}
            />{' '}
            Ask a question
          </label>
        </fieldset>
        {next.type === 'immediate' ? (
          <TargetPicker label={`Decision ${d.id} goes to`} value={next.target} tree={tree} invalid={bad('next.target')} onChange={(t) => setNext({ ...next, target: t })} />
        ) : (
          <>
            <label htmlFor={`${id}-q`}>Question of decision {d.id}</label>
            <textarea id={`${id}-q`} rows={2} maxLength={1024} value={textIn(next.question, lang)} aria-invalid={bad('next.question') || undefined} onChange={(e) => setNext({ ...next, question: withText(next.question, lang, e.target.value) })} />
            <fieldset>
              <legend>Choices</legend>
              {next.choices.map((c, j) => (
                <div key={j} className="choice-form">
                  <span className="stack">
                    <label htmlFor={`${id}-c${j}-title`}>
                      Choice {j + 1} title
                    </label>
                    <input id={`${id}-c${j}-title`} maxLength={24} value={textIn(c.title, lang)} aria-invalid={bad(`next.choices.${j}.title`) || undefined} onChange={(e) => setChoice(j, e.target.value || typeof c.title === 'object' ? { ...c, title: withText(c.title, lang, e.target.value) } : { ...c, title: undefined })} />
                  </span>
                  <span className="stack">
                    <label htmlFor={`${id}-c${j}-similar`}>
                      Choice {j + 1} similar words
                    </label>
                    <input id={`${id}-c${j}-similar`} placeholder="buy, price" value={(c.similar ?? []).join(', ')} onChange={(e) => setChoice(j, { ...c, similar: splitWords(e.target.value).length ? splitWords(e.target.value) : undefined })} />
                  </span>
                  <span className="stack">
                    <label htmlFor={`${id}-c${j}-pattern`}>
                      Choice {j + 1} pattern
                    </label>
                    <input id={`${id}-c${j}-pattern`} placeholder="^#?\d{6}$" value={c.pattern ?? ''} aria-invalid={bad(`next.choices.${j}.pattern`) || undefined} onChange={(e) => setChoice(j, { ...c, pattern: e.target.value || undefined })} />
                  </span>
                  <TargetPicker label={`Choice ${j + 1} goes to`} value={c.target} tree={tree} invalid={bad(`next.choices.${j}.target`)} onChange={(t) => setChoice(j, { ...c, target: t })} />
                  <button type="button" className="link" onClick={() => setNext({ ...next, choices: next.choices.filter((_, k) => k !== j) })} aria-label={`Remove choice ${j + 1} of decision ${d.id}`}>
                    Remove choice
                  </button>
                </div>
              ))}
              <button
                type="button"
                className="secondary small"
                onClick={() => {
                  const used = new Set(next.choices.map((c) => c.id));
                  let n = next.choices.length + 1;
                  while (used.has(`choice_${n}`)) n++;
                  setNext({ ...next, choices: [...next.choices, { id: `choice_${n}`, title: '', target: next.default }] });
                }}
              >
                Add choice
              </button>
            </fieldset>
            <TargetPicker label={`Any other answer to decision ${d.id} goes to`} value={next.default} tree={tree} invalid={bad('next.default')} onChange={(t) => setNext({ ...next, default: t })} />
            <label className="check">
              <input
                type="checkbox"
                checked={!!next.timeout}
                onChange={(e) => setNext(e.target.checked ? { ...next, timeout: { seconds: 3600, target: { kind: 'terminate' } } } : { ...next, timeout: undefined })}
              />{' '}
              Give up when there is no answer
            </label>
            {next.timeout && (
              <div className="row end">
                <span className="stack">
                  <label htmlFor={`${id}-to`}>After (minutes)</label>
                  <input
                    id={`${id}-to`}
                    type="number"
                    min={1}
                    max={10080}
                    value={Math.round(next.timeout.seconds / 60)}
                    onChange={(e) => setNext({ ...next, timeout: { ...next.timeout!, seconds: Math.round(Number(e.target.value) * 60) } })}
                  />
                </span>
                <TargetPicker label="then go to" value={next.timeout.target} tree={tree} invalid={bad('next.timeout')} onChange={(t) => setNext({ ...next, timeout: { ...next.timeout!, target: t } })} />
              </div>
            )}
          </>
        )}
        {onRemove && (
          <button type="button" className="danger" onClick={onRemove}>
            Remove decision {d.id}
          </button>
        )}
      </div>
    </details>
  );
}
