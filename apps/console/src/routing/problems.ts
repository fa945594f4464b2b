import { problemText } from '../api';
import type { Problem } from './tree-layout';

/** The `errors: [{path, message}]` of a 400 `validation_error`, or the problem's text as one problem. */
export function problemsOf(error: unknown): Problem[] {
  const errors = (error as { errors?: unknown } | undefined)?.errors;
  if (Array.isArray(errors) && errors.length) {
    return errors.map((e: { path?: unknown; message?: unknown }) => ({ path: typeof e.path === 'string' ? e.path : '', message: String(e.message ?? '') }));
  }
  return [{ path: '', message: problemText(error) }];
}

/**
 * Problems relative to one object: the API names body paths (`priority`) or, for references
 * checked against the whole draft, document paths (`queues.2.agentIds.0`). Problems about other
 * objects of the draft are kept with their full path, so nothing is hidden.
 */
export function relativeProblems(problems: Problem[], collection: string, index: number | null): Problem[] {
  const re = new RegExp(`^${collection}\\.(\\d+)\\.?`);
  return problems.map((p) => {
    const m = re.exec(p.path);
    if (m && (index === null || Number(m[1]) === index)) return { ...p, path: p.path.slice(m[0].length) };
    return p;
  });
}

/** Whether a problem concerns the field at `path` (or something inside it). */
export const hasProblem = (problems: Problem[], path: string) => problems.some((p) => p.path === path || p.path.startsWith(`${path}.`));
