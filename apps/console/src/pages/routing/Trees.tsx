import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { jsonWithLines, lineForPath, lineRange } from '../../routing/json-lines';
import { problemsOf } from '../../routing/problems';
import { type Problem, treeProblemPath } from '../../routing/tree-layout';
import type { DecisionTree, RoutingDecisionTree, RoutingDocument } from '../../routing/types';
import { useSession } from '../../session';
import { idempotency, useRouting } from './shared';
import { TreeDiagram } from './TreeDiagram';
import { TreeForm } from './TreeForm';

/** A first tree to start from: a question whose choices lead to the draft's queues. */
export function starterTree(doc: RoutingDocument): DecisionTree {
  const choices = doc.queues.slice(0, 3).map((q, i) => ({ id: `choice_${i + 1}`, title: q.name.slice(0, 20), target: { kind: 'queue' as const, id: q.id } }));
  return {
    defaultLanguage: 'en',
    start: 'welcome',
    decisions: [
      { id: 'welcome', actions: [{ type: 'send_message', text: 'Hi {{contact.name | there}}!' }], next: { type: 'immediate', target: 'menu' } },
      { id: 'menu', actions: [], next: { type: 'answer', question: 'How can we help?', choices, default: choices.length ? 'menu' : { kind: 'terminate' } } },
    ],
  };
}

type Parsed = { tree: DecisionTree; error: null } | { tree: null; error: string };

/** The JSON as typed, if it has the shape the diagram needs; the server checks everything else. */
function parseTree(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { tree: null, error: `Not valid JSON: ${(err as Error).message}` };
  }
  const t = value as Partial<DecisionTree> | null;
  if (!t || typeof t !== 'object' || !Array.isArray(t.decisions) || typeof t.start !== 'string') return { tree: null, error: 'A tree needs "start" and a "decisions" list.' };
  if (!t.decisions.every((d) => d && typeof d === 'object' && typeof d.id === 'string' && d.next && typeof d.next === 'object' && (d.next.type === 'immediate' || (d.next.type === 'answer' && Array.isArray(d.next.choices))))) {
    return { tree: null, error: 'Every decision needs an "id" and a "next" of type "immediate" or "answer" (with "choices").' };
  }
  const decisions = t.decisions.map((d) => ({ ...d, actions: Array.isArray(d.actions) ? d.actions : [] }));
  return { tree: { ...(t as DecisionTree), decisions }, error: null };
}

export function TreesPanel() {
  const { doc } = useRouting();
  const [selected, setSelected] = useState<string | 'new' | null>(doc.decisionTrees[0]?.id ?? null);
  const [notice, setNotice] = useState<string | null>(null);
  // The editor is keyed by its tree, so its confirmation lives here to outlast the switch to the new tree.
  const saved = (id: string | null, message: string) => {
    setSelected(id);
    setNotice(message);
  };
  const current = selected && selected !== 'new' ? doc.decisionTrees.find((t) => t.id === selected) : undefined;
  return (
    <div className="stack-lg">
      <h2>Decision trees</h2>
      <div className="row">
        {doc.decisionTrees.length > 0 && (
          <>
            <label htmlFor="tree-pick">Tree</label>
            <select id="tree-pick" value={selected === 'new' ? '' : (selected ?? '')} onChange={(e) => saved(e.target.value || null, '')}>
              {selected === 'new' && <option value="">(new tree)</option>}
              {doc.decisionTrees.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          </>
        )}
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setSelected('new');
            setNotice(null);
          }}
        >
          New decision tree
        </button>
      </div>
      {notice && <p role="status">{notice}</p>}
      {selected === 'new' ? (
        <TreeEditor key="new" entry={null} onSaved={saved} />
      ) : current ? (
        <TreeEditor key={current.id} entry={current} onSaved={saved} />
      ) : (
        <p className="muted">No decision tree yet. A tree asks the contact questions and hands the chat to a queue, the assistant or another destination.</p>
      )}
    </div>
  );
}

function TreeEditor({ entry, onSaved }: { entry: RoutingDecisionTree | null; onSaved: (id: string | null, message: string) => void }) {
  const { client } = useSession();
  const { doc, reload } = useRouting();
  const [name, setName] = useState(entry?.name ?? '');
  const [text, setText] = useState(() => jsonWithLines(entry?.tree ?? starterTree(doc)).text);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [saving, setSaving] = useState(false);
  const [mode, setMode] = useState<'form' | 'json'>('form');
  // A problem chosen while the form shows: the JSON opens first, then its line is selected.
  const [pendingLine, setPendingLine] = useState<string | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const parsed = useMemo(() => parseTree(text), [text]);
  // A new tree is appended to the draft, so the server names it by the next index.
  const index = entry ? doc.decisionTrees.findIndex((t) => t.id === entry.id) : doc.decisionTrees.length;
  const treeProblems = problems.flatMap((p) => {
    const path = treeProblemPath(p.path, index);
    return path === null ? [] : [{ ...p, path }];
  });
  const otherProblems = problems.filter((p) => treeProblemPath(p.path, index) === null);

  /** Puts the cursor on the line of the field a problem names. */
  const goTo = (path: string) => {
    if (mode !== 'json') {
      setMode('json');
      setPendingLine(path);
      return;
    }
    if (!parsed.tree || !area.current) return;
    const { lineOf } = jsonWithLines(JSON.parse(text));
    const [start, end] = lineRange(text, lineForPath(lineOf, path));
    area.current.focus();
    area.current.setSelectionRange(start, end);
    const lineHeight = area.current.scrollHeight / Math.max(1, text.split('\n').length);
    area.current.scrollTop = Math.max(0, lineHeight * (lineForPath(lineOf, path) - 3));
  };

  useEffect(() => {
    if (mode === 'json' && pendingLine !== null) {
      setPendingLine(null);
      goTo(pendingLine);
    }
  });

  const save = async (event: FormEvent) => {
    event.preventDefault();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return setProblems([{ path: 'tree', message: `Not valid JSON: ${(err as Error).message}` }]);
    }
    // Written back in the one layout the problem lines are computed for.
    setText(jsonWithLines(value).text);
    setSaving(true);
    const body = { name, tree: value as DecisionTree };
    const res = entry
      ? await client.PUT('/v1/routing/draft/decision-trees/{id}', { params: { path: { id: entry.id } }, body })
      : await client.POST('/v1/routing/draft/decision-trees', { body, headers: idempotency() });
    setSaving(false);
    if (!res.data) return setProblems(problemsOf(res.error));
    setProblems([]);
    await reload();
    onSaved(res.data.id, `Tree ${res.data.name} saved in the draft.`);
  };

  const remove = async () => {
    if (!entry || !window.confirm(`Remove the tree ${entry.name} from the draft?`)) return;
    const { error, response } = await client.DELETE('/v1/routing/draft/decision-trees/{id}', { params: { path: { id: entry.id } } });
    if (!response.ok) return setProblems(problemsOf(error));
    await reload();
    onSaved(null, `Tree ${entry.name} removed from the draft.`);
  };

  return (
    <div className="tree-editor">
      <section className="card stack" aria-labelledby="diagram-title">
        <h3 id="diagram-title">Diagram{entry ? ` of ${entry.name}` : ''}</h3>
        {parsed.tree ? (
          <TreeDiagram tree={parsed.tree} doc={doc} problems={treeProblems} onProblem={goTo} />
        ) : (
          <p className="error" role="status">
            {parsed.error}
          </p>
        )}
      </section>
      <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="tree-form-title">
        <h3 id="tree-form-title">{entry ? `Edit ${entry.name}` : 'New decision tree'}</h3>
        <label htmlFor="tree-name">Tree name</label>
        <input id="tree-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        <div className="segmented" role="group" aria-label="Edit the tree as">
          <button type="button" aria-pressed={mode === 'form'} disabled={!parsed.tree && mode === 'json'} onClick={() => setMode('form')}>
            Form
          </button>
          <button type="button" aria-pressed={mode === 'json'} onClick={() => setMode('json')}>
            JSON
          </button>
        </div>
        {mode === 'form' && parsed.tree && <TreeForm tree={parsed.tree} problems={treeProblems} onChange={(t) => setText(jsonWithLines(t).text)} />}
        {mode === 'form' && !parsed.tree && <p className="error">{parsed.error} Fix it in the JSON.</p>}
        <label htmlFor="tree-json" hidden={mode !== 'json'}>
          Tree (JSON)
        </label>
        <textarea
          hidden={mode !== 'json'}
          id="tree-json"
          ref={area}
          className="code"
          rows={18}
          spellCheck={false}
          value={text}
          aria-describedby="tree-json-hint"
          aria-invalid={problems.length > 0 || undefined}
          onChange={(e) => setText(e.target.value)}
        />
        <p id="tree-json-hint" className="hint" hidden={mode !== 'json'}>
          The format is in docs/routing.md (Decision trees). The diagram follows as you type; saving checks the tree against the whole draft.
        </p>
        {problems.length > 0 && (
          <div className="problems" role="alert">
            <p>
              Not saved: {problems.length} problem{problems.length === 1 ? '' : 's'}. Choose one to go to its line.
            </p>
            <ul>
              {treeProblems.map((p, i) => (
                <li key={`t${i}`}>
                  <button type="button" className="link" onClick={() => goTo(p.path)}>
                    <code>{p.path || 'tree'}</code>
                  </button>{' '}
                  {p.message}
                </li>
              ))}
              {otherProblems.map((p, i) => (
                <li key={`o${i}`}>
                  {p.path && <code>{p.path}</code>} {p.message}
                </li>
              ))}
            </ul>
          </div>
        )}
        <div className="row">
          <button type="submit" disabled={saving}>
            {saving ? 'Saving…' : 'Save tree'}
          </button>
          {entry && (
            <button type="button" className="danger" onClick={() => void remove()}>
              Remove tree
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
