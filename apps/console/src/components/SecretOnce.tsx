import { useEffect, useRef, useState } from 'react';

/**
 * A secret the platform shows only once (a webhook signing secret, a partner token). It takes
 * focus when it appears so a screen reader announces it, offers a copy button, and stays until
 * the person says they have kept it: it cannot be fetched again.
 */
export function SecretOnce({ title, values, onDone }: { title: string; values: { label: string; value: string }[]; onDone: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  const [copied, setCopied] = useState<string | null>(null);

  useEffect(() => {
    box.current?.focus();
  }, []);

  const copy = async (label: string, value: string) => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(`${label} copied.`);
    } catch {
      // Clipboard access needs a secure context and permission; selecting lets the person copy by hand.
      const field = box.current?.querySelector<HTMLInputElement>(`input[data-secret="${label}"]`);
      field?.select();
      setCopied(`Could not copy; ${label.toLowerCase()} is selected, copy it with your keyboard.`);
    }
  };

  return (
    <div className="card stack secret-once" role="region" aria-labelledby="secret-once-title" tabIndex={-1} ref={box}>
      <h3 id="secret-once-title">{title}</h3>
      <p className="warn-text">
        <strong>Copy it now: you will not see it again.</strong> Parley keeps only an encrypted copy and never shows it a second time.
      </p>
      {values.map(({ label, value }) => {
        const id = `secret-${label.toLowerCase().replace(/\W+/g, '-')}`;
        return (
          <div key={label} className="stack">
            <label htmlFor={id}>{label}</label>
            <div className="secret-row">
              <input id={id} data-secret={label} readOnly value={value} spellCheck={false} autoComplete="off" onFocus={(e) => e.target.select()} />
              <button type="button" className="secondary" onClick={() => void copy(label, value)} aria-label={`Copy ${label.toLowerCase()}`}>
                Copy
              </button>
            </div>
          </div>
        );
      })}
      <p role="status" className="hint">
        {copied ?? ''}
      </p>
      <button type="button" onClick={onDone}>
        I have kept it
      </button>
    </div>
  );
}
