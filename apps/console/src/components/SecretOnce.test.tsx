// @vitest-environment happy-dom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SecretOnce } from './SecretOnce';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

describe('a secret shown once', () => {
  let container: HTMLElement;
  let root: Root;
  let done: ReturnType<typeof vi.fn<() => void>>;

  const render = () =>
    act(() =>
      root.render(
        <SecretOnce
          title="Partner token"
          values={[
            { label: 'Access token', value: 'eyJ.access' },
            { label: 'Refresh token', value: 'prt_refresh' },
          ]}
          onDone={done}
        />,
      ),
    );
  const button = (name: string) => [...container.querySelectorAll('button')].find((b) => (b.getAttribute('aria-label') ?? b.textContent) === name)!;
  const status = () => container.querySelector('[role="status"]')!.textContent;

  beforeEach(() => {
    container = document.createElement('div');
    document.body.append(container);
    root = createRoot(container);
    done = vi.fn<() => void>();
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    vi.unstubAllGlobals();
  });

  it('takes focus, labels each value and warns that it will not be shown again', () => {
    render();
    const region = container.querySelector('[role="region"]')!;
    expect(document.activeElement).toBe(region);
    expect(region.getAttribute('aria-labelledby')).toBe('secret-once-title');
    expect(region.textContent).toContain('you will not see it again');
    const access = container.querySelector<HTMLInputElement>('#secret-access-token')!;
    expect(access.readOnly).toBe(true);
    expect(access.value).toBe('eyJ.access');
    expect(container.querySelector('label[for="secret-refresh-token"]')?.textContent).toBe('Refresh token');
  });

  it('copies the value it belongs to', async () => {
    const writeText = vi.fn(async () => undefined);
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    render();
    await act(async () => button('Copy refresh token').click());
    expect(writeText).toHaveBeenCalledWith('prt_refresh');
    expect(status()).toBe('Refresh token copied.');
  });

  it('selects the value for copying by hand when the clipboard is refused', async () => {
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText: async () => Promise.reject(new Error('denied')) } });
    render();
    const access = container.querySelector<HTMLInputElement>('#secret-access-token')!;
    await act(async () => button('Copy access token').click());
    expect(status()).toContain('Could not copy');
    expect(access.selectionStart).toBe(0);
    expect(access.selectionEnd).toBe('eyJ.access'.length);
  });

  it('goes away only when the person says it is kept', () => {
    render();
    expect(done).not.toHaveBeenCalled();
    act(() => button('I have kept it').click());
    expect(done).toHaveBeenCalledOnce();
  });
});
