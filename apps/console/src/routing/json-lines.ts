/**
 * `JSON.stringify(value, null, 2)` and the line each path (`decisions.1.next.choices.0`) starts
 * on, so the JSON editor can put the cursor on the field a server problem names.
 */
export function jsonWithLines(value: unknown): { text: string; lineOf: Map<string, number> } {
  const lineOf = new Map<string, number>();
  const walk = (v: unknown, path: string, line: number): number => {
    lineOf.set(path, line);
    if (v === null || typeof v !== 'object') return 1;
    const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v).filter(([, x]) => x !== undefined);
    if (!entries.length) return 1;
    let used = 1;
    for (const [key, child] of entries) used += walk(child, path ? `${path}.${key}` : key, line + used);
    return used + 1;
  };
  walk(value, '', 0);
  return { text: JSON.stringify(value, null, 2), lineOf };
}

/** The line of the deepest path the problem's path starts with (a missing field points at its parent). */
export function lineForPath(lineOf: Map<string, number>, path: string): number {
  let p = path;
  while (p) {
    const line = lineOf.get(p);
    if (line !== undefined) return line;
    p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '';
  }
  return 0;
}

/** Character offsets of a line, for `setSelectionRange`. */
export function lineRange(text: string, line: number): [number, number] {
  let start = 0;
  for (let i = 0; i < line; i++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) return [text.length, text.length];
    start = nl + 1;
  }
  const end = text.indexOf('\n', start);
  return [start, end < 0 ? text.length : end];
}
