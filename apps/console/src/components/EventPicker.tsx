import { coveredBy, EVENT_GROUPS, patternsOutsidePicker, toggle } from '../webhooks';

/**
 * Checkboxes over the event catalog: a whole group by its prefix (`message`), or single events.
 * An event that a checked group already covers shows checked and cannot be unticked on its own.
 */
export function EventPicker({ id, selected, onChange }: { id: string; selected: string[]; onChange: (next: string[]) => void }) {
  const others = patternsOutsidePicker(selected);
  return (
    <fieldset className="event-picker" aria-describedby={`${id}-help`}>
      <legend>Events</legend>
      <p id={`${id}-help`} className="hint">
        A whole group also receives events added to it later.
      </p>
      {EVENT_GROUPS.map((group) => {
        const groupOn = selected.includes(group.prefix);
        return (
          <div key={group.prefix} className="event-group">
            <label className="check">
              <input type="checkbox" checked={groupOn} onChange={(e) => onChange(toggle(selected, group.prefix, e.target.checked))} />
              Every <code>{group.prefix}</code> event
            </label>
            <ul>
              {group.events.map((event) => {
                const via = coveredBy(selected, event.name);
                return (
                  <li key={event.name}>
                    <label className="check">
                      <input
                        type="checkbox"
                        checked={Boolean(via) || selected.includes(event.name)}
                        disabled={Boolean(via)}
                        onChange={(e) => onChange(toggle(selected, event.name, e.target.checked))}
                      />
                      <span>
                        <code>{event.name}</code> <span className="muted">— {event.label}</span>
                      </span>
                    </label>
                  </li>
                );
              })}
            </ul>
          </div>
        );
      })}
      {others.length > 0 && (
        <div className="event-group">
          <p className="hint">Also subscribed (set through the API):</p>
          <ul>
            {others.map((p) => (
              <li key={p}>
                <label className="check">
                  <input type="checkbox" checked onChange={() => onChange(toggle(selected, p, false))} />
                  <code>{p}</code>
                </label>
              </li>
            ))}
          </ul>
        </div>
      )}
    </fieldset>
  );
}
