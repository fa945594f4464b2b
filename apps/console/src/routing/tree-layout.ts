import type { Decision, DecisionTree, Destination, Target } from './types';

/*
 * The decision-tree diagram's model, apart from React: decisions and final destinations as nodes
 * in layers (breadth first from `start`, so a contact's path reads top to bottom), and every
 * outgoing target as a labelled edge whose label says which kind of answer takes it.
 */

export type EdgeKind = 'next' | 'choice' | 'default' | 'timeout';

export interface TreeEdge {
  /** The edge's place in the tree (`decisions.1.next.choices.0`): server problems under it belong to it. */
  path: string;
  from: string;
  to: string;
  kind: EdgeKind;
  /** The answer that takes it: a choice's title (or pattern, or words); "other answer"; "no answer in 1 h"; "then". */
  label: string;
}

export interface TreeNode {
  key: string;
  kind: 'decision' | 'destination' | 'missing';
  /** Breadth-first distance from the start; unreachable decisions come last. */
  depth: number;
  reachable: boolean;
  decision?: Decision;
  decisionIndex?: number;
  destination?: Destination;
  /** A decision's id, or the unknown decision id a target names. */
  id?: string;
}

export interface TreeLayout {
  nodes: Map<string, TreeNode>;
  layers: string[][];
  edges: TreeEdge[];
  startKey: string;
}

export const decisionKey = (id: string) => `d:${id}`;
export const destinationKey = (d: Destination) => `x:${d.kind}:${d.id ?? ''}`;

/** A text of the tree in one language: the variant, else the default language's, else any. */
export function localizedText(text: string | Record<string, string> | undefined, language: string): string {
  if (text === undefined) return '';
  if (typeof text === 'string') return text;
  return text[language] ?? Object.values(text)[0] ?? '';
}

export function formatDuration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function targetKey(target: Target, decisionIds: Set<string>): string {
  if (typeof target === 'string') return decisionIds.has(target) ? decisionKey(target) : `m:${target}`;
  return destinationKey(target);
}

/** The outgoing edges of one decision, in the order the tree lists them. */
export function decisionEdges(decision: Decision, index: number, language: string, decisionIds: Set<string>): TreeEdge[] {
  const from = decisionKey(decision.id);
  const base = `decisions.${index}.next`;
  const next = decision.next;
  if (next.type === 'immediate') return [{ path: `${base}.target`, from, to: targetKey(next.target, decisionIds), kind: 'next', label: 'then' }];
  const edges: TreeEdge[] = next.choices.map((choice, j) => {
    const title = localizedText(choice.title, language);
    const label = title
      ? title
      : choice.pattern
        ? `matches /${choice.pattern}/`
        : choice.similar?.length
          ? `says ${choice.similar.slice(0, 3).join(', ')}`
          : choice.id;
    return { path: `${base}.choices.${j}`, from, to: targetKey(choice.target, decisionIds), kind: 'choice' as const, label };
  });
  edges.push({ path: `${base}.default`, from, to: targetKey(next.default, decisionIds), kind: 'default', label: 'any other answer' });
  if (next.timeout) {
    edges.push({ path: `${base}.timeout`, from, to: targetKey(next.timeout.target, decisionIds), kind: 'timeout', label: `no answer in ${formatDuration(next.timeout.seconds)}` });
  }
  return edges;
}

export function layoutTree(tree: DecisionTree): TreeLayout {
  const language = tree.defaultLanguage;
  const decisionIds = new Set(tree.decisions.map((d) => d.id));
  const nodes = new Map<string, TreeNode>();
  const edges: TreeEdge[] = [];
  tree.decisions.forEach((decision, index) => {
    // A repeated id keeps its first decision; the server names the duplicate.
    if (!nodes.has(decisionKey(decision.id))) {
      nodes.set(decisionKey(decision.id), { key: decisionKey(decision.id), kind: 'decision', depth: -1, reachable: false, decision, decisionIndex: index, id: decision.id });
    }
    edges.push(...decisionEdges(decision, index, language, decisionIds));
  });
  for (const edge of edges) {
    if (nodes.has(edge.to)) continue;
    if (edge.to.startsWith('m:')) nodes.set(edge.to, { key: edge.to, kind: 'missing', depth: -1, reachable: false, id: edge.to.slice(2) });
    else {
      const [, kind, id] = edge.to.split(':') as [string, Destination['kind'], string];
      nodes.set(edge.to, { key: edge.to, kind: 'destination', depth: -1, reachable: false, destination: id ? { kind, id } : { kind } });
    }
  }
  const startKey = decisionIds.has(tree.start) ? decisionKey(tree.start) : `m:${tree.start}`;
  if (!nodes.has(startKey)) nodes.set(startKey, { key: startKey, kind: 'missing', depth: -1, reachable: false, id: tree.start });

  const outgoing = new Map<string, TreeEdge[]>();
  for (const edge of edges) outgoing.set(edge.from, [...(outgoing.get(edge.from) ?? []), edge]);
  const layers: string[][] = [];
  const queue: string[] = [startKey];
  nodes.get(startKey)!.depth = 0;
  nodes.get(startKey)!.reachable = true;
  while (queue.length) {
    const key = queue.shift()!;
    const node = nodes.get(key)!;
    (layers[node.depth] ??= []).push(key);
    for (const edge of outgoing.get(key) ?? []) {
      const target = nodes.get(edge.to)!;
      if (target.reachable) continue;
      target.reachable = true;
      target.depth = node.depth + 1;
      queue.push(edge.to);
    }
  }
  // What the start does not lead to still shows, in one last layer, so it can be fixed or removed.
  const unreachable = [...nodes.values()].filter((n) => !n.reachable);
  if (unreachable.length) {
    const depth = layers.length;
    for (const n of unreachable) n.depth = depth;
    layers.push(unreachable.map((n) => n.key));
  }
  return { nodes, layers, edges, startKey };
}

/**
 * The tree-relative path of a server problem (`decisions.1.next.choices.0.pattern`) from what the
 * API names: a draft-document path (`decisionTrees.2.tree.…`) or a body path (`tree.…`).
 * Null for problems outside the tree (its name).
 */
export function treeProblemPath(path: string, treeIndex: number | null): string | null {
  if (path === 'tree' || path.startsWith('tree.')) return path.slice(5);
  const prefix = /^decisionTrees\.(\d+)\.tree\.?/.exec(path);
  if (prefix && (treeIndex === null || Number(prefix[1]) === treeIndex)) return path.slice(prefix[0].length);
  return null;
}

export interface Problem {
  path: string;
  message: string;
}

/** Problems grouped where the diagram shows them: on a decision's edge, on the decision, or on the tree. */
export function placeProblems(problems: Problem[], layout: TreeLayout): { byEdge: Map<string, Problem[]>; byNode: Map<string, Problem[]>; tree: Problem[] } {
  const byEdge = new Map<string, Problem[]>();
  const byNode = new Map<string, Problem[]>();
  const tree: Problem[] = [];
  const add = (map: Map<string, Problem[]>, key: string, p: Problem) => map.set(key, [...(map.get(key) ?? []), p]);
  for (const p of problems) {
    const edge = layout.edges.find((e) => p.path === e.path || p.path.startsWith(`${e.path}.`));
    if (edge) {
      add(byEdge, edge.path, p);
      continue;
    }
    const m = /^decisions\.(\d+)(\.|$)/.exec(p.path);
    const node = m ? [...layout.nodes.values()].find((n) => n.decisionIndex === Number(m[1])) : undefined;
    if (node) add(byNode, node.key, p);
    else tree.push(p);
  }
  return { byEdge, byNode, tree };
}
