import { type ReactNode, useCallback, useId, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { type EdgeKind, layoutTree, localizedText, placeProblems, type Problem, type TreeEdge, type TreeLayout, type TreeNode } from '../../routing/tree-layout';
import { type Decision, type DecisionTree, describeDestination, type RoutingDocument } from '../../routing/types';

const KIND_TEXT: Record<EdgeKind, string> = { next: 'next', choice: 'answer', default: 'default', timeout: 'timeout' };

function clip(text: string, max = 70): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** One action as a line of the decision's box. */
export function describeAction(action: Decision['actions'][number], language: string): string {
  switch (action.type) {
    case 'send_message':
      return `Send “${clip(localizedText(action.text, language))}”`;
    case 'request_data':
      return `${action.method} ${clip(action.url, 50)} → data.${action.variable}`;
    case 'save_data':
      return `Save data.${action.key} = “${clip(action.value, 40)}”`;
    case 'create_ticket':
      return `Create ticket “${clip(action.subject)}”`;
  }
}

export function nodeTitle(node: TreeNode, doc: RoutingDocument | null): string {
  if (node.kind === 'decision') return node.decision!.name ? `${node.decision!.name} (${node.id})` : `Decision ${node.id}`;
  if (node.kind === 'missing') return `Unknown decision “${node.id}”`;
  return describeDestination(node.destination!, doc);
}

interface Line {
  path: string;
  kind: EdgeKind;
  d: string;
}

/**
 * A decision tree as a diagram: decisions as boxes in rows, step by step from the start, each box
 * listing its actions and its outgoing targets labelled by the answer that takes them; final
 * destinations as boxes of their own. The arrows are drawn over it in SVG for the eye only: the
 * boxes themselves are lists and links (each target links to its box), so the diagram reads and
 * navigates the same with a keyboard or a screen reader. An outline below gives the same tree as
 * nested lists.
 */
export function TreeDiagram({ tree, doc, problems = [], onProblem }: { tree: DecisionTree; doc: RoutingDocument | null; problems?: Problem[]; onProblem?: (path: string) => void }) {
  const layout = useMemo(() => layoutTree(tree), [tree]);
  const placed = useMemo(() => placeProblems(problems, layout), [problems, layout]);
  const prefix = useId().replace(/[^a-zA-Z0-9_-]/g, '');
  const container = useRef<HTMLDivElement>(null);
  const [lines, setLines] = useState<Line[]>([]);
  const [size, setSize] = useState({ width: 0, height: 0 });
  const [active, setActive] = useState<string | null>(null);
  const nodeId = useCallback((key: string) => `${prefix}-n-${key.replace(/[^a-zA-Z0-9_-]/g, '_')}`, [prefix]);

  const measure = useCallback(() => {
    const box = container.current;
    if (!box) return;
    const origin = box.getBoundingClientRect();
    const next: Line[] = [];
    for (const edge of layout.edges) {
      const row = box.querySelector<HTMLElement>(`[data-edge="${edge.path}"]`);
      const target = document.getElementById(nodeId(edge.to));
      if (!row || !target) continue;
      const r = row.getBoundingClientRect();
      const t = target.getBoundingClientRect();
      const sx = r.right - origin.left;
      const sy = r.top + r.height / 2 - origin.top;
      const top = t.top - origin.top;
      let d: string;
      if (top > sy + 12) {
        const tx = t.left + t.width / 2 - origin.left;
        d = `M${sx},${sy} C${sx + 48},${sy} ${tx},${top - 56} ${tx},${top}`;
      } else {
        // Back to a box above or beside (a question asked again): around the right side.
        const tx = t.right - origin.left;
        const ty = top + 18;
        const bulge = Math.max(sx, tx) + 36;
        d = `M${sx},${sy} C${bulge},${sy} ${bulge},${ty} ${tx},${ty}`;
      }
      next.push({ path: edge.path, kind: edge.kind, d });
    }
    setLines(next);
    setSize({ width: box.scrollWidth, height: box.scrollHeight });
  }, [layout, nodeId]);

  useLayoutEffect(() => {
    measure();
    const box = container.current;
    if (!box || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => measure());
    observer.observe(box);
    return () => observer.disconnect();
  }, [measure]);

  const focusNode = (key: string) => document.getElementById(nodeId(key))?.focus();
  const language = tree.defaultLanguage;

  const edgeRow = (edge: TreeEdge) => {
    const target = layout.nodes.get(edge.to)!;
    const edgeProblems = placed.byEdge.get(edge.path) ?? [];
    return (
      <li
        key={edge.path}
        data-edge={edge.path}
        className={`edge-row kind-${edge.kind}${active === edge.path ? ' active' : ''}${edgeProblems.length ? ' has-problem' : ''}`}
        onMouseEnter={() => setActive(edge.path)}
        onMouseLeave={() => setActive(null)}
        onFocus={() => setActive(edge.path)}
        onBlur={() => setActive(null)}
      >
        <span className="edge-kind">{KIND_TEXT[edge.kind]}</span> <span className="edge-label">{edge.label}</span>{' '}
        <a
          href={`#${nodeId(edge.to)}`}
          onClick={(e) => {
            e.preventDefault();
            focusNode(edge.to);
          }}
        >
          <span aria-hidden="true">→ </span>
          <span className="visually-hidden">goes to </span>
          {nodeTitle(target, doc)}
        </a>
        {edgeProblems.map((p, i) => (
          <ProblemNote key={i} problem={p} onProblem={onProblem} />
        ))}
      </li>
    );
  };

  return (
    <div className="tree-view">
      {placed.tree.length > 0 && (
        <ul className="problems-inline" aria-label="Problems with the whole tree">
          {placed.tree.map((p, i) => (
            <li key={i}>
              <ProblemNote problem={p} onProblem={onProblem} />
            </li>
          ))}
        </ul>
      )}
      <div className="tree-diagram" ref={container}>
        <svg className="tree-edges" aria-hidden="true" width={size.width} height={size.height} focusable="false">
          <defs>
            {(['next', 'choice', 'default', 'timeout'] as const).map((k) => (
              <marker key={k} id={`${prefix}-arrow-${k}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                <path d="M0,0 L10,5 L0,10 z" className={`arrow kind-${k}`} />
              </marker>
            ))}
          </defs>
          {lines.map((l) => (
            <path key={l.path} d={l.d} className={`edge kind-${l.kind}${active === l.path ? ' active' : ''}`} markerEnd={`url(#${prefix}-arrow-${l.kind})`} />
          ))}
        </svg>
        <ol className="tree-layers" aria-label={`Diagram of the tree, from the start ${layout.layers.length} step${layout.layers.length === 1 ? '' : 's'} deep`}>
          {layout.layers.map((layer, depth) => {
            const unreachable = layer.some((k) => !layout.nodes.get(k)!.reachable);
            return (
              <li key={depth} className="tree-layer">
                <span className="visually-hidden">{unreachable ? 'Not reached from the start:' : `Step ${depth + 1}:`}</span>
                {unreachable && <p className="layer-note">Not reached from the start</p>}
                <ul>
                  {layer.map((key) => {
                    const node = layout.nodes.get(key)!;
                    const nodeProblems = placed.byNode.get(key) ?? [];
                    const out = layout.edges.filter((e) => e.from === key);
                    const next = node.decision?.next;
                    return (
                      <li key={key}>
                        <article
                          id={nodeId(key)}
                          tabIndex={-1}
                          className={`tree-node ${node.kind}${!node.reachable ? ' unreachable' : ''}${nodeProblems.length ? ' has-problem' : ''}`}
                          aria-labelledby={`${nodeId(key)}-h`}
                        >
                          <h4 id={`${nodeId(key)}-h`}>
                            {key === layout.startKey && (
                              <>
                                <span className="badge start">Start</span>{' '}
                              </>
                            )}
                            {nodeTitle(node, doc)}
                          </h4>
                          {node.decision && node.decision.actions.length > 0 && (
                            <ul className="node-actions" aria-label="Actions">
                              {node.decision.actions.map((a, i) => (
                                <li key={i}>{describeAction(a, language)}</li>
                              ))}
                            </ul>
                          )}
                          {next?.type === 'answer' && (
                            <p className="question">
                              <span className="visually-hidden">Asks: </span>“{clip(localizedText(next.question, language), 120)}”
                              {next.saveAs && <span className="muted"> (saved as data.{next.saveAs})</span>}
                            </p>
                          )}
                          {out.length > 0 && (
                            <ul className="node-out" aria-label="Goes to">
                              {out.map(edgeRow)}
                            </ul>
                          )}
                          {nodeProblems.map((p, i) => (
                            <ProblemNote key={i} problem={p} onProblem={onProblem} />
                          ))}
                        </article>
                      </li>
                    );
                  })}
                </ul>
              </li>
            );
          })}
        </ol>
      </div>
      <details className="tree-outline">
        <summary>Outline (the same tree as nested lists)</summary>
        <Outline layout={layout} doc={doc} />
      </details>
    </div>
  );
}

function ProblemNote({ problem, onProblem }: { problem: Problem; onProblem?: (path: string) => void }) {
  return (
    <span className="problem-note">
      <span aria-hidden="true">⚠ </span>
      <span className="visually-hidden">Problem: </span>
      {onProblem ? (
        <button type="button" className="link" onClick={() => onProblem(problem.path)}>
          {problem.message}
        </button>
      ) : (
        problem.message
      )}{' '}
      {problem.path && <code>{problem.path}</code>}
    </span>
  );
}

/** The tree as nested lists from its start; a decision already shown is referred back to. */
export function Outline({ layout, doc }: { layout: TreeLayout; doc: RoutingDocument | null }) {
  const shown = new Set<string>();
  const render = (key: string): ReactNode => {
    const node = layout.nodes.get(key)!;
    const title = nodeTitle(node, doc);
    if (node.kind !== 'decision') return <span>{title}</span>;
    if (shown.has(key)) return <span>{title} (shown above)</span>;
    shown.add(key);
    const out = layout.edges.filter((e) => e.from === key);
    return (
      <>
        <span>{title}</span>
        <ul>
          {out.map((e) => (
            <li key={e.path}>
              <em>{e.label}</em>: {render(e.to)}
            </li>
          ))}
        </ul>
      </>
    );
  };
  const rest = () => [...layout.nodes.values()].filter((n) => n.kind === 'decision' && !n.reachable).map((n) => <li key={n.key}>Not reached: {render(n.key)}</li>);
  return (
    <ul className="outline">
      <li>{render(layout.startKey)}</li>
      {rest()}
    </ul>
  );
}

