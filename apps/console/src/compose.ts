import type { paths } from '../../../packages/sdk/src/generated/openapi';

/** The body of `POST /v1/conversations/:id/messages`, as the SDK types it. */
export type OutboundBody = NonNullable<paths['/v1/conversations/{id}/messages']['post']['requestBody']>['content']['application/json'];

/**
 * Meta's limits, the same the API's zod schema holds (apps/api/src/routes/messaging.ts): a
 * message the composer lets through is never refused for its shape.
 */
export const LIMITS = {
  url: 2048,
  mediaId: 128,
  caption: 1024,
  filename: 240,
  body: 1024,
  footer: 60,
  headerText: 60,
  buttons: 3,
  buttonTitle: 20,
  listButton: 20,
  sectionTitle: 24,
  rows: 10,
  rowTitle: 24,
  rowDescription: 72,
} as const;

export type MediaKind = 'image' | 'video' | 'document' | 'audio';
export const MEDIA_KINDS: Array<{ value: MediaKind; label: string }> = [
  { value: 'image', label: 'Image' },
  { value: 'video', label: 'Video' },
  { value: 'document', label: 'Document' },
  { value: 'audio', label: 'Audio' },
];

export type Built = { ok: true; body: OutboundBody } | { ok: false; problems: Record<string, string> };

function httpsUrl(value: string): string | null {
  if (!value) return 'Give the file’s address.';
  if (value.length > LIMITS.url) return `At most ${LIMITS.url} characters.`;
  try {
    if (new URL(value).protocol !== 'https:') return 'Meta fetches media over https only.';
  } catch {
    return 'Not a web address.';
  }
  return null;
}

function tooLong(value: string, max: number): string | null {
  return value.length > max ? `At most ${max} characters (${value.length} now).` : null;
}

/**
 * The files the API takes for upload (`POST /v1/channels/{id}/media`), for the file picker; the
 * API judges type and size itself (apps/console/test/compose-limits.test.ts holds the two equal).
 */
export const UPLOAD_ACCEPT = [
  'image/jpeg',
  'image/png',
  'audio/aac',
  'audio/amr',
  'audio/mpeg',
  'audio/mp4',
  'audio/ogg',
  'video/mp4',
  'video/3gpp',
  'text/plain',
  'application/pdf',
  'application/msword',
  'application/vnd.ms-excel',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
];

/** The kind a file of this type is sent as (the API's upload answers the same). */
export function kindOfFile(mimeType: string): MediaKind | null {
  if (!UPLOAD_ACCEPT.includes(mimeType)) return null;
  const top = mimeType.split('/')[0];
  return top === 'image' ? 'image' : top === 'audio' ? 'audio' : top === 'video' ? 'video' : 'document';
}

export interface MediaInput {
  kind: MediaKind;
  /** A file uploaded first (its id and kind then come from the upload), a link, or a media id. */
  source: 'file' | 'link' | 'id';
  link: string;
  id: string;
  caption: string;
  filename: string;
}

/** An image, video, document or audio by https link or uploaded media id, with its caption. */
export function buildMedia(input: MediaInput): Built {
  const problems: Record<string, string> = {};
  const link = input.link.trim();
  const id = input.id.trim();
  const caption = input.caption.trim();
  const filename = input.filename.trim();
  if (input.source === 'file') {
    // The upload answers the id; until then only the caption and name can be checked.
    if (!id) problems.file = 'Choose a file.';
  } else if (input.source === 'link') {
    const p = httpsUrl(link);
    if (p) problems.link = p;
  } else if (!id) problems.id = 'Give the uploaded media id.';
  else if (id.length > LIMITS.mediaId) problems.id = `At most ${LIMITS.mediaId} characters.`;
  // Meta takes no caption on audio.
  if (input.kind !== 'audio' && caption) {
    const p = tooLong(caption, LIMITS.caption);
    if (p) problems.caption = p;
  }
  if (input.kind === 'document' && filename) {
    const p = tooLong(filename, LIMITS.filename);
    if (p) problems.filename = p;
  }
  if (Object.keys(problems).length) return { ok: false, problems };
  const ref = input.source === 'link' ? { link } : { id };
  switch (input.kind) {
    case 'image':
      return { ok: true, body: { type: 'image', image: { ...ref, ...(caption ? { caption } : {}) } } };
    case 'video':
      return { ok: true, body: { type: 'video', video: { ...ref, ...(caption ? { caption } : {}) } } };
    case 'document':
      return { ok: true, body: { type: 'document', document: { ...ref, ...(caption ? { caption } : {}), ...(filename ? { filename } : {}) } } };
    case 'audio':
      return { ok: true, body: { type: 'audio', audio: ref } };
  }
}

export interface ButtonsInput {
  header: string;
  body: string;
  footer: string;
  /** Button titles; empty ones are left out. */
  buttons: string[];
}

function common(input: { header: string; body: string; footer: string }, problems: Record<string, string>) {
  const header = input.header.trim();
  const body = input.body.trim();
  const footer = input.footer.trim();
  if (!body) problems.body = 'Write the message.';
  else {
    const p = tooLong(body, LIMITS.body);
    if (p) problems.body = p;
  }
  const h = tooLong(header, LIMITS.headerText);
  if (h) problems.header = h;
  const f = tooLong(footer, LIMITS.footer);
  if (f) problems.footer = f;
  return {
    ...(header ? { header: { type: 'text' as const, text: header } } : {}),
    body: { text: body },
    ...(footer ? { footer: { text: footer } } : {}),
  };
}

/**
 * Up to three reply buttons. A button's id is what comes back when the person taps it; it is
 * made from its position, so the person's answer names the button whatever its title.
 */
export function buildButtons(input: ButtonsInput): Built {
  const problems: Record<string, string> = {};
  const parts = common(input, problems);
  const titles = input.buttons.map((t) => t.trim());
  titles.forEach((t, i) => {
    const p = tooLong(t, LIMITS.buttonTitle);
    if (p) problems[`button${i}`] = p;
  });
  const used = titles.map((title, i) => ({ title, i })).filter((b) => b.title);
  if (!used.length) problems.buttons = 'Give at least one button.';
  if (used.length > LIMITS.buttons) problems.buttons = `At most ${LIMITS.buttons} buttons.`;
  const seen = new Set<string>();
  for (const b of used) {
    if (seen.has(b.title)) problems[`button${b.i}`] = 'Button titles must differ.';
    seen.add(b.title);
  }
  if (Object.keys(problems).length) return { ok: false, problems };
  return {
    ok: true,
    body: {
      type: 'interactive',
      interactive: {
        type: 'button',
        ...parts,
        action: { buttons: used.map((b) => ({ type: 'reply' as const, reply: { id: `button-${b.i + 1}`, title: b.title } })) },
      },
    },
  };
}

export interface ListInput {
  header: string;
  body: string;
  footer: string;
  /** The label of the button that opens the list. */
  button: string;
  /** One section of rows: a title each, with an optional description. */
  rows: Array<{ title: string; description: string }>;
}

/** A list message of one section (up to ten rows), the common case. */
export function buildList(input: ListInput): Built {
  const problems: Record<string, string> = {};
  const parts = common(input, problems);
  const button = input.button.trim();
  if (!button) problems.button = 'Name the button that opens the list.';
  else {
    const p = tooLong(button, LIMITS.listButton);
    if (p) problems.button = p;
  }
  const rows = input.rows.map((r, i) => ({ title: r.title.trim(), description: r.description.trim(), i })).filter((r) => r.title || r.description);
  if (!rows.length) problems.rows = 'Give at least one row.';
  if (rows.length > LIMITS.rows) problems.rows = `At most ${LIMITS.rows} rows.`;
  for (const r of rows) {
    if (!r.title) problems[`row${r.i}`] = 'A row needs a title.';
    else if (r.title.length > LIMITS.rowTitle) problems[`row${r.i}`] = `At most ${LIMITS.rowTitle} characters (${r.title.length} now).`;
    const d = tooLong(r.description, LIMITS.rowDescription);
    if (d) problems[`rowDescription${r.i}`] = d;
  }
  if (Object.keys(problems).length) return { ok: false, problems };
  return {
    ok: true,
    body: {
      type: 'interactive',
      interactive: {
        type: 'list',
        ...parts,
        action: {
          button,
          sections: [{ rows: rows.map((r) => ({ id: `row-${r.i + 1}`, title: r.title, ...(r.description ? { description: r.description } : {}) })) }],
        },
      },
    },
  };
}
