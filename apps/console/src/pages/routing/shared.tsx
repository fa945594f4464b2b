import { createContext, useContext, useId, type KeyboardEvent, type ReactNode } from 'react';
import type { Channel, User } from '../../api';
import type { Problem } from '../../routing/tree-layout';
import { DESTINATION_KINDS, type Destination, type DestinationKind, type RoutingDocument } from '../../routing/types';

export interface RoutingData {
  doc: RoutingDocument;
  users: User[];
  channels: Channel[];
  timeZone: string;
  /** Reads the draft, the compare and the live version again after a change. */
  reload: () => Promise<void>;
}

export const RoutingContext = createContext<RoutingData | null>(null);

export function useRouting(): RoutingData {
  const value = useContext(RoutingContext);
  if (!value) throw new Error('useRouting outside the routing page');
  return value;
}

/** A list of server problems, each with the field it names. */
export function ProblemList({ problems, title = 'Not saved:' }: { problems: Problem[]; title?: string }) {
  if (!problems.length) return null;
  return (
    <div className="problems" role="alert">
      <p>{title}</p>
      <ul>
        {problems.map((p, i) => (
          <li key={i}>
            {p.path && <code>{p.path}</code>} {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Where a chat goes: a kind, and for most kinds one of the draft's objects of that kind. */
export function DestinationPicker({
  label,
  value,
  onChange,
  exclude,
  invalid,
}: {
  label: string;
  value: Destination | null;
  onChange: (d: Destination | null) => void;
  /** An object that may not be chosen (a time condition pointing at itself). */
  exclude?: string;
  invalid?: boolean;
}) {
  const { doc } = useRouting();
  const id = useId();
  const kind = value?.kind ?? '';
  const meta = DESTINATION_KINDS.find((k) => k.kind === kind);
  const options = meta?.collection ? (doc[meta.collection] as { id: string; name: string }[]).filter((o) => o.id !== exclude) : [];
  const setKind = (k: string) => {
    if (!k) return onChange(null);
    const m = DESTINATION_KINDS.find((x) => x.kind === k)!;
    const first = m.collection && k !== 'terminate' ? (doc[m.collection] as { id: string }[]).find((o) => o.id !== exclude) : undefined;
    onChange(first ? { kind: k as DestinationKind, id: first.id } : { kind: k as DestinationKind });
  };
  return (
    <fieldset className="destination">
      <legend>{label}</legend>
      <label htmlFor={`${id}-kind`}>Kind</label>
      <select id={`${id}-kind`} value={kind} onChange={(e) => setKind(e.target.value)} aria-invalid={invalid || undefined}>
        <option value="">Choose…</option>
        {DESTINATION_KINDS.map((k) => (
          <option key={k.kind} value={k.kind}>
            {k.label}
          </option>
        ))}
      </select>
      {meta?.collection && (
        <>
          <label htmlFor={`${id}-id`}>{meta.label}</label>
          <select
            id={`${id}-id`}
            value={value?.id ?? ''}
            aria-invalid={invalid || undefined}
            onChange={(e) => onChange(e.target.value ? { kind: kind as DestinationKind, id: e.target.value } : { kind: kind as DestinationKind })}
          >
            {kind === 'terminate' ? <option value="">Just end the chat</option> : !options.length && <option value="">None in the draft yet</option>}
            {options.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
          </select>
        </>
      )}
    </fieldset>
  );
}

export interface TabDef {
  id: string;
  label: string;
}

/**
 * WAI-ARIA tabs: one tab stop, arrow keys (and Home/End) move between tabs and show them.
 * The panel is rendered by the caller with `tabPanelProps`.
 */
export function Tabs({ tabs, current, onChange, label }: { tabs: TabDef[]; current: string; onChange: (id: string) => void; label: string }) {
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = tabs.findIndex((t) => t.id === current);
    const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? tabs.length - 1 : null;
    if (next === null) return;
    e.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length]!;
    onChange(tab.id);
    document.getElementById(`tab-${tab.id}`)?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label={label} onKeyDown={onKey}>
      {tabs.map((t) => (
        <button
          key={t.id}
          type="button"
          role="tab"
          id={`tab-${t.id}`}
          aria-selected={t.id === current}
          aria-controls={`panel-${t.id}`}
          tabIndex={t.id === current ? 0 : -1}
          className={t.id === current ? 'tab selected' : 'tab'}
          onClick={() => onChange(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

export function TabPanel({ id, children }: { id: string; children: ReactNode }) {
  return (
    <div role="tabpanel" id={`panel-${id}`} aria-labelledby={`tab-${id}`} className="tab-panel">
      {children}
    </div>
  );
}

export const idempotency = () => ({ 'Idempotency-Key': crypto.randomUUID() });
