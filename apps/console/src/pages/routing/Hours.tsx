import { type FormEvent, useId, useMemo, useState } from 'react';
import { copyDay, crossesMidnight, describeRange, emptyWeek, normalizeClock, overlappingRanges, rangeProblem, sortRanges, summarizeWeek, WEEKDAYS } from '../../routing/hours';
import { hasProblem, problemsOf, relativeProblems } from '../../routing/problems';
import type { Problem } from '../../routing/tree-layout';
import { describeDestination, type Destination, type RoutingTimeCondition, type RoutingTimeGroup, type TimeRange } from '../../routing/types';
import { useSession } from '../../session';
import { DestinationPicker, idempotency, ProblemList, useRouting } from './shared';

export function HoursPanel() {
  return (
    <div className="stack-lg">
      <TimeZoneForm />
      <TimeGroups />
      <TimeConditions />
    </div>
  );
}

function TimeZoneForm() {
  const { client } = useSession();
  const { timeZone, reload } = useRouting();
  const [zone, setZone] = useState(timeZone);
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const zones = useMemo(() => (typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []), []);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    const { data, error } = await client.PUT('/v1/settings/time-zone', { body: { timeZone: zone.trim() } });
    if (!data) return setStatus({ ok: false, text: problemsOf(error).map((p) => p.message).join(' ') });
    setStatus({ ok: true, text: `Business hours are read in ${data.timeZone}.` });
    await reload();
  };
  return (
    <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="tz-title">
      <h2 id="tz-title">Time zone</h2>
      <label htmlFor="tz">Organization time zone</label>
      <input id="tz" list="tz-list" required value={zone} onChange={(e) => setZone(e.target.value)} aria-describedby="tz-hint" />
      <datalist id="tz-list">
        {zones.map((z) => (
          <option key={z} value={z} />
        ))}
      </datalist>
      <p id="tz-hint" className="hint">
        An IANA name such as Europe/Madrid. It takes effect at once: it is not part of the draft.
      </p>
      <button type="submit">Save time zone</button>
      {status && (
        <p role={status.ok ? 'status' : 'alert'} className={status.ok ? '' : 'error'}>
          {status.text}
        </p>
      )}
    </form>
  );
}

/** One day's ranges: several allowed, each may run past midnight. */
export function RangesEditor({ ranges, onChange, label, problems }: { ranges: TimeRange[]; onChange: (r: TimeRange[]) => void; label: string; problems: Problem[] }) {
  const id = useId();
  const overlaps = overlappingRanges(ranges);
  const set = (i: number, patch: Partial<TimeRange>) => onChange(ranges.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <div className="ranges">
      {ranges.length === 0 && <p className="muted">Closed</p>}
      <ul>
        {ranges.map((r, i) => {
          const local = rangeProblem(r);
          const server = problems.filter((p) => p.path === String(i) || p.path.startsWith(`${i}.`));
          return (
            <li key={i} className="range">
              <span className="range-field">
                <label htmlFor={`${id}-${i}-from`}>
                  <span className="visually-hidden">
                    {label} range {i + 1}{' '}
                  </span>
                  opens
                </label>
                <input
                  id={`${id}-${i}-from`}
                  className="clock"
                  inputMode="numeric"
                  placeholder="09:00"
                  value={r.from}
                  aria-invalid={!!local || server.length > 0 || undefined}
                  onChange={(e) => set(i, { from: e.target.value })}
                  onBlur={(e) => set(i, { from: normalizeClock(e.target.value) })}
                />
              </span>
              <span className="range-field">
                <label htmlFor={`${id}-${i}-to`}>
                  <span className="visually-hidden">
                    {label} range {i + 1}{' '}
                  </span>
                  closes
                </label>
                <input
                  id={`${id}-${i}-to`}
                  className="clock"
                  inputMode="numeric"
                  placeholder="17:00"
                  value={r.to}
                  aria-invalid={!!local || server.length > 0 || undefined}
                  onChange={(e) => set(i, { to: e.target.value })}
                  onBlur={(e) => set(i, { to: normalizeClock(e.target.value) })}
                />
              </span>
              <button type="button" className="link" onClick={() => onChange(ranges.filter((_, j) => j !== i))} aria-label={`Remove ${label} range ${i + 1}`}>
                Remove
              </button>
              {local ? (
                <span className="error">{local}</span>
              ) : (
                <span className={crossesMidnight(r) ? 'night' : 'muted'}>{describeRange(r)}</span>
              )}
              {server.map((p, k) => (
                <span key={k} className="error">
                  {p.message}
                </span>
              ))}
            </li>
          );
        })}
      </ul>
      {overlaps.map(([a, b]) => (
        <p key={`${a}-${b}`} className="warn-text">
          Ranges {a + 1} and {b + 1} overlap.
        </p>
      ))}
      <button type="button" className="secondary small" onClick={() => onChange([...ranges, { from: '09:00', to: '17:00' }])} aria-label={`Add a range on ${label}`}>
        Add range
      </button>
    </div>
  );
}

type GroupForm = Omit<RoutingTimeGroup, 'id'>;
const blankGroup = (): GroupForm => ({ name: '', weekly: emptyWeek(), holidays: [], overrides: [], includes: [] });

function TimeGroups() {
  const { client } = useSession();
  const { doc, reload } = useRouting();
  const [editing, setEditing] = useState<string | null>(null);
  const [form, setForm] = useState<GroupForm>(blankGroup);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const [holiday, setHoliday] = useState({ date: '', name: '' });
  const [override, setOverride] = useState({ date: '', closed: true });

  const edit = (g: RoutingTimeGroup | null) => {
    setEditing(g?.id ?? null);
    setProblems([]);
    setStatus(null);
    setForm(g ? { name: g.name, weekly: g.weekly, holidays: g.holidays, overrides: g.overrides, includes: g.includes } : blankGroup());
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const weekly = Object.fromEntries(WEEKDAYS.map((d) => [d.key, sortRanges(form.weekly[d.key])])) as GroupForm['weekly'];
    const body = { ...form, weekly, overrides: form.overrides.map((o) => (o.closed ? { date: o.date, closed: true } : o)) };
    const res = editing
      ? await client.PUT('/v1/routing/draft/time-groups/{id}', { params: { path: { id: editing } }, body })
      : await client.POST('/v1/routing/draft/time-groups', { body, headers: idempotency() });
    if (!res.data) return setProblems(relativeProblems(problemsOf(res.error), 'timeGroups', editing ? doc.timeGroups.findIndex((g) => g.id === editing) : doc.timeGroups.length));
    edit(null);
    setStatus(`Time group ${res.data.name} saved in the draft.`);
    await reload();
  };

  const remove = async (g: RoutingTimeGroup) => {
    if (!window.confirm(`Remove the time group ${g.name} from the draft?`)) return;
    const { error, response } = await client.DELETE('/v1/routing/draft/time-groups/{id}', { params: { path: { id: g.id } } });
    if (!response.ok) return setProblems(problemsOf(error));
    setStatus(`Time group ${g.name} removed from the draft.`);
    await reload();
  };

  const dayProblems = (day: string) => problems.filter((p) => p.path.startsWith(`weekly.${day}.`)).map((p) => ({ ...p, path: p.path.slice(`weekly.${day}.`.length) }));
  const others = problems.filter((p) => !p.path.startsWith('weekly.'));

  return (
    <section className="stack" aria-labelledby="groups-title">
      <h2 id="groups-title">Time groups</h2>
      {doc.timeGroups.length === 0 ? (
        <p className="muted">No time group yet. A time group holds opening hours; a time condition sends chats one way while it is open and another way otherwise.</p>
      ) : (
        <ul className="object-list">
          {doc.timeGroups.map((g) => (
            <li key={g.id}>
              <div>
                <strong>{g.name}</strong>
                <p className="hint">{summarizeWeek(g.weekly)}</p>
                {(g.holidays.length > 0 || g.overrides.length > 0 || g.includes.length > 0) && (
                  <p className="hint">
                    {g.holidays.length} holiday{g.holidays.length === 1 ? '' : 's'}, {g.overrides.length} override{g.overrides.length === 1 ? '' : 's'}
                    {g.includes.length > 0 && `, includes ${g.includes.map((id) => doc.timeGroups.find((x) => x.id === id)?.name ?? id).join(', ')}`}
                  </p>
                )}
              </div>
              <div className="row-actions">
                <button type="button" className="secondary" onClick={() => edit(g)} aria-label={`Edit time group ${g.name}`}>
                  Edit
                </button>
                <button type="button" className="danger" onClick={() => void remove(g)} aria-label={`Remove time group ${g.name}`}>
                  Remove
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="group-form-title">
        <h3 id="group-form-title">{editing ? `Edit time group ${doc.timeGroups.find((g) => g.id === editing)?.name ?? ''}` : 'Add a time group'}</h3>
        <label htmlFor="group-name">Time group name</label>
        <input id="group-name" required maxLength={200} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <fieldset className="week">
          <legend>Weekly hours</legend>
          <p className="hint">A range whose closing time is earlier than its opening time (22:00–02:00) runs past midnight. 24:00 is midnight.</p>
          {WEEKDAYS.map((d) => (
            <div key={d.key} className="day">
              <h4>{d.label}</h4>
              <RangesEditor label={d.label} ranges={form.weekly[d.key]} problems={dayProblems(d.key)} onChange={(r) => setForm({ ...form, weekly: { ...form.weekly, [d.key]: r } })} />
              {d.key === 'monday' && form.weekly.monday.length > 0 && (
                <button
                  type="button"
                  className="link"
                  onClick={() => setForm({ ...form, weekly: copyDay(form.weekly, 'monday', ['tuesday', 'wednesday', 'thursday', 'friday']) })}
                >
                  Copy Monday to Tuesday–Friday
                </button>
              )}
            </div>
          ))}
        </fieldset>
        <fieldset>
          <legend>Holidays (closed all day)</legend>
          <ul className="plain">
            {form.holidays.map((h, i) => (
              <li key={`${h.date}-${i}`}>
                {h.date} {h.name && <span className="muted">{h.name}</span>}{' '}
                <button type="button" className="link" onClick={() => setForm({ ...form, holidays: form.holidays.filter((_, j) => j !== i) })} aria-label={`Remove holiday ${h.date}`}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <div className="row">
            <span className="range-field">
              <label htmlFor="holiday-date">Holiday date</label>
              <input id="holiday-date" type="date" value={holiday.date} onChange={(e) => setHoliday({ ...holiday, date: e.target.value })} />
            </span>
            <span className="range-field">
              <label htmlFor="holiday-name">Holiday name</label>
              <input id="holiday-name" value={holiday.name} maxLength={200} onChange={(e) => setHoliday({ ...holiday, name: e.target.value })} />
            </span>
            <button
              type="button"
              className="secondary"
              disabled={!holiday.date}
              onClick={() => {
                setForm({ ...form, holidays: [...form.holidays, holiday.name.trim() ? { date: holiday.date, name: holiday.name.trim() } : { date: holiday.date }] });
                setHoliday({ date: '', name: '' });
              }}
            >
              Add holiday
            </button>
          </div>
        </fieldset>
        <fieldset>
          <legend>Overrides (one-off days)</legend>
          {form.overrides.map((o, i) => (
            <div key={`${o.date}-${i}`} className="override">
              <p>
                <strong>{o.date}</strong> {o.closed ? 'closed all day' : 'open during:'}{' '}
                <button type="button" className="link" onClick={() => setForm({ ...form, overrides: form.overrides.filter((_, j) => j !== i) })} aria-label={`Remove override ${o.date}`}>
                  Remove
                </button>
              </p>
              {!o.closed && (
                <RangesEditor
                  label={o.date}
                  ranges={o.ranges ?? []}
                  problems={problems.filter((p) => p.path.startsWith(`overrides.${i}.ranges.`)).map((p) => ({ ...p, path: p.path.slice(`overrides.${i}.ranges.`.length) }))}
                  onChange={(r) => setForm({ ...form, overrides: form.overrides.map((x, j) => (j === i ? { ...x, ranges: r } : x)) })}
                />
              )}
            </div>
          ))}
          <div className="row">
            <span className="range-field">
              <label htmlFor="override-date">Override date</label>
              <input id="override-date" type="date" value={override.date} onChange={(e) => setOverride({ ...override, date: e.target.value })} />
            </span>
            <label className="check">
              <input type="checkbox" checked={override.closed} onChange={(e) => setOverride({ ...override, closed: e.target.checked })} /> Closed all day
            </label>
            <button
              type="button"
              className="secondary"
              disabled={!override.date}
              onClick={() => {
                setForm({ ...form, overrides: [...form.overrides, override.closed ? { date: override.date, closed: true } : { date: override.date, closed: false, ranges: [{ from: '10:00', to: '14:00' }] }] });
                setOverride({ date: '', closed: true });
              }}
            >
              Add override
            </button>
          </div>
        </fieldset>
        {doc.timeGroups.filter((g) => g.id !== editing).length > 0 && (
          <fieldset className="checks">
            <legend>Include other groups (their holidays and hours)</legend>
            {doc.timeGroups
              .filter((g) => g.id !== editing)
              .map((g) => (
                <label key={g.id} className="check">
                  <input
                    type="checkbox"
                    checked={form.includes.includes(g.id)}
                    onChange={(e) => setForm({ ...form, includes: e.target.checked ? [...form.includes, g.id] : form.includes.filter((x) => x !== g.id) })}
                  />
                  {g.name}
                </label>
              ))}
          </fieldset>
        )}
        <ProblemList problems={others} />
        {problems.length > others.length && (
          <p className="error" role="alert">
            Some hours were refused; they are marked above.
          </p>
        )}
        <div className="row">
          <button type="submit">{editing ? 'Save time group' : 'Add time group'}</button>
          {editing && (
            <button type="button" className="secondary" onClick={() => edit(null)}>
              Cancel
            </button>
          )}
        </div>
        {status && <p role="status">{status}</p>}
      </form>
    </section>
  );
}

type ConditionForm = { name: string; timeGroupId: string; whenOpen: Destination | null; whenClosed: Destination | null };

function TimeConditions() {
  const { client } = useSession();
  const { doc, reload } = useRouting();
  const [editing, setEditing] = useState<string | null>(null);
  const blank: ConditionForm = { name: '', timeGroupId: doc.timeGroups[0]?.id ?? '', whenOpen: null, whenClosed: null };
  const [form, setForm] = useState<ConditionForm>(blank);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);

  const edit = (c: RoutingTimeCondition | null) => {
    setEditing(c?.id ?? null);
    setProblems([]);
    setStatus(null);
    setForm(c ? { name: c.name, timeGroupId: c.timeGroupId, whenOpen: c.whenOpen, whenClosed: c.whenClosed } : blank);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!form.whenOpen || !form.whenClosed) return setProblems([{ path: '', message: 'Choose where chats go while open and while closed.' }]);
    const body = { name: form.name, timeGroupId: form.timeGroupId || doc.timeGroups[0]?.id || '', whenOpen: form.whenOpen, whenClosed: form.whenClosed };
    const res = editing
      ? await client.PUT('/v1/routing/draft/time-conditions/{id}', { params: { path: { id: editing } }, body })
      : await client.POST('/v1/routing/draft/time-conditions', { body, headers: idempotency() });
    if (!res.data) return setProblems(relativeProblems(problemsOf(res.error), 'timeConditions', editing ? doc.timeConditions.findIndex((c) => c.id === editing) : doc.timeConditions.length));
    edit(null);
    setStatus(`Time condition ${res.data.name} saved in the draft.`);
    await reload();
  };

  const remove = async (c: RoutingTimeCondition) => {
    if (!window.confirm(`Remove the time condition ${c.name} from the draft?`)) return;
    const { error, response } = await client.DELETE('/v1/routing/draft/time-conditions/{id}', { params: { path: { id: c.id } } });
    if (!response.ok) return setProblems(problemsOf(error));
    setStatus(`Time condition ${c.name} removed from the draft.`);
    await reload();
  };

  return (
    <section className="stack" aria-labelledby="conditions-title">
      <h2 id="conditions-title">Time conditions</h2>
      {doc.timeConditions.length > 0 && (
        <ul className="object-list">
          {doc.timeConditions.map((c) => (
            <li key={c.id}>
              <div>
                <strong>{c.name}</strong>
                <p className="hint">
                  While {doc.timeGroups.find((g) => g.id === c.timeGroupId)?.name ?? c.timeGroupId} is open: {describeDestination(c.whenOpen, doc)}; otherwise:{' '}
                  {describeDestination(c.whenClosed, doc)}
                </p>
              </div>
              <div className="row-actions">
                <button type="button" className="secondary" onClick={() => edit(c)} aria-label={`Edit time condition ${c.name}`}>
                  Edit
                </button>
                <button type="button" className="danger" onClick={() => void remove(c)} aria-label={`Remove time condition ${c.name}`}>
                  Remove
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {doc.timeGroups.length === 0 ? (
        <p className="muted">Add a time group first.</p>
      ) : (
        <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="condition-form-title">
          <h3 id="condition-form-title">{editing ? 'Edit time condition' : 'Add a time condition'}</h3>
          <label htmlFor="condition-name">Time condition name</label>
          <input id="condition-name" required maxLength={200} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          <label htmlFor="condition-group">Time group</label>
          <select id="condition-group" value={form.timeGroupId} onChange={(e) => setForm({ ...form, timeGroupId: e.target.value })}>
            {doc.timeGroups.map((g) => (
              <option key={g.id} value={g.id}>
                {g.name}
              </option>
            ))}
          </select>
          <DestinationPicker label="While open" value={form.whenOpen} exclude={editing ?? undefined} invalid={hasProblem(problems, 'whenOpen')} onChange={(d) => setForm({ ...form, whenOpen: d })} />
          <DestinationPicker label="While closed" value={form.whenClosed} exclude={editing ?? undefined} invalid={hasProblem(problems, 'whenClosed')} onChange={(d) => setForm({ ...form, whenClosed: d })} />
          <ProblemList problems={problems} />
          <div className="row">
            <button type="submit">{editing ? 'Save time condition' : 'Add time condition'}</button>
            {editing && (
              <button type="button" className="secondary" onClick={() => edit(null)}>
                Cancel
              </button>
            )}
          </div>
          {status && <p role="status">{status}</p>}
        </form>
      )}
    </section>
  );
}
