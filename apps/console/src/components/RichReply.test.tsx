// @vitest-environment happy-dom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OutboundBody } from '../compose';
import { ButtonsReply, ListReply, MediaReply, type SendBody, type UploadFile } from './RichReply';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLElement;
let root: Root;
beforeEach(() => {
  container = document.createElement('div');
  document.body.append(container);
  root = createRoot(container);
});
afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

/** The control labelled `label`, as a person finds it. */
function field(label: string): HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement {
  const l = [...container.querySelectorAll('label')].find((x) => x.textContent?.trim() === label);
  const el = l?.htmlFor ? document.getElementById(l.htmlFor) : l?.querySelector('input');
  if (!el) throw new Error(`no field labelled ${label}`);
  return el as HTMLInputElement;
}

/** Types into a controlled field the way React hears it (the native setter, then an input event). */
function type(label: string, value: string) {
  const el = field(label);
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
  act(() => {
    Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, value);
    el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
  });
}

function click(text: string) {
  const button = [...container.querySelectorAll('button')].find((b) => b.textContent?.trim() === text);
  if (!button) throw new Error(`no button ${text}`);
  return act(async () => {
    button.click();
  });
}

const errorOf = (label: string) => {
  const el = field(label);
  const ids = el.getAttribute('aria-describedby')?.split(' ') ?? [];
  return ids.map((id) => document.getElementById(id)).find((e) => e?.classList.contains('field-error'))?.textContent ?? null;
};

describe('reply buttons in the composer', () => {
  it('refuses a title over 20 characters on the spot, then sends up to three buttons and clears', async () => {
    const send = vi.fn<SendBody>(async () => null);
    act(() => root.render(<ButtonsReply send={send} />));
    type('Message text', '¿Confirmas la entrega mañana?');
    type('Button 1', 'Sí, confirmo la hora!');
    expect(container.textContent).toContain('21/20');
    await click('Send buttons');
    expect(send).not.toHaveBeenCalled();
    expect(errorOf('Button 1')).toBe('At most 20 characters (21 now).');
    expect(field('Button 1').getAttribute('aria-invalid')).toBe('true');
    expect(container.querySelector('[role="alert"]')?.textContent).toBe('1 field needs fixing before sending.');

    type('Button 1', 'Sí, confirmo');
    type('Button 3', 'Otro día');
    await click('Send buttons');
    expect(send).toHaveBeenCalledWith({
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: '¿Confirmas la entrega mañana?' },
        action: {
          buttons: [
            { type: 'reply', reply: { id: 'button-1', title: 'Sí, confirmo' } },
            { type: 'reply', reply: { id: 'button-3', title: 'Otro día' } },
          ],
        },
      },
    } satisfies OutboundBody);
    expect(field('Message text').value).toBe('');
    expect(container.querySelector('[role="alert"]')).toBeNull();
  });

  it('shows the API’s problem when the send is refused, and keeps what was typed', async () => {
    const send = vi.fn<SendBody>(async () => 'The 24-hour window is closed.');
    act(() => root.render(<ButtonsReply send={send} />));
    type('Message text', 'Hola');
    type('Button 2', 'Sí');
    await click('Send buttons');
    expect(container.querySelector('[role="alert"]')?.textContent).toBe('The 24-hour window is closed.');
    expect(field('Message text').value).toBe('Hola');
  });
});

describe('media in the composer', () => {
  it('asks for an https address, then sends a document with its caption and file name', async () => {
    const send = vi.fn<SendBody>(async () => null);
    act(() => root.render(<MediaReply send={send} />));
    type('Media type', 'document');
    type('File address', 'http://files.example.com/factura.pdf');
    type('Caption', 'Tu factura de noviembre');
    type('File name', 'factura-noviembre.pdf');
    await click('Send document');
    expect(send).not.toHaveBeenCalled();
    expect(errorOf('File address')).toBe('Meta fetches media over https only.');

    type('File address', 'https://files.example.com/factura.pdf');
    await click('Send document');
    expect(send).toHaveBeenCalledWith({
      type: 'document',
      document: { link: 'https://files.example.com/factura.pdf', caption: 'Tu factura de noviembre', filename: 'factura-noviembre.pdf' },
    });
  });

  it('sends an image by a media id uploaded to Meta; audio has no caption field', async () => {
    const send = vi.fn<SendBody>(async () => null);
    act(() => root.render(<MediaReply send={send} />));
    act(() => (field('A media id uploaded to Meta') as HTMLInputElement).click());
    type('Media id', '1013859600285441');
    await click('Send image');
    expect(send).toHaveBeenCalledWith({ type: 'image', image: { id: '1013859600285441' } });
    type('Media type', 'audio');
    expect(() => field('Caption')).toThrow();
  });
});

/** Picks `file` in the file input labelled `label`, as the browser hands it to React. */
function choose(label: string, file: File) {
  const input = field(label) as HTMLInputElement;
  act(() => {
    Object.defineProperty(input, 'files', { value: [file], configurable: true });
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

describe('a file from this computer in the composer', () => {
  it('uploads the chosen file, then sends the document by the id the upload answered, named as the file', async () => {
    const send = vi.fn<SendBody>(async () => null);
    const upload = vi.fn<UploadFile>(async () => ({ id: '7788990011', kind: 'document' as const }));
    act(() => root.render(<MediaReply send={send} upload={upload} />));
    await click('Send image');
    expect(errorOf('File')).toBe('Choose a file.');
    expect(upload).not.toHaveBeenCalled();
    const file = new File(['%PDF-1.4'], 'factura.pdf', { type: 'application/pdf' });
    choose('File', file);
    type('Caption', 'Tu factura');
    await click('Send document');
    expect(upload).toHaveBeenCalledWith(file);
    expect(send).toHaveBeenCalledWith({ type: 'document', document: { id: '7788990011', caption: 'Tu factura', filename: 'factura.pdf' } });
  });

  it('shows the upload’s problem on the file and sends nothing; a caption too long is refused before uploading', async () => {
    const send = vi.fn<SendBody>(async () => null);
    const upload = vi.fn<UploadFile>(async () => ({ problem: 'A image of type image/png may be at most 5242880 bytes.' }));
    act(() => root.render(<MediaReply send={send} upload={upload} />));
    choose('File', new File(['x'], 'foto.png', { type: 'image/png' }));
    type('Caption', 'x'.repeat(1025));
    await click('Send image');
    expect(upload).not.toHaveBeenCalled();
    type('Caption', 'Mi foto');
    await click('Send image');
    expect(errorOf('File')).toBe('A image of type image/png may be at most 5242880 bytes.');
    expect(send).not.toHaveBeenCalled();
  });
});

describe('list messages in the composer', () => {
  it('sends a list of the choices given, with descriptions where written', async () => {
    const send = vi.fn<SendBody>(async () => null);
    act(() => root.render(<ListReply send={send} />));
    type('Message text', '¿Qué horario prefieres?');
    type('List button', 'Ver horarios');
    type('Choice 1', 'Mañana');
    await click('Add a choice');
    type('Choice 2', 'Tarde');
    type('Choice 2 description (optional)', 'De 14:00 a 18:00');
    await click('Send list');
    expect(send).toHaveBeenCalledWith({
      type: 'interactive',
      interactive: {
        type: 'list',
        body: { text: '¿Qué horario prefieres?' },
        action: {
          button: 'Ver horarios',
          sections: [{ rows: [{ id: 'row-1', title: 'Mañana' }, { id: 'row-2', title: 'Tarde', description: 'De 14:00 a 18:00' }] }],
        },
      },
    });
  });
});
