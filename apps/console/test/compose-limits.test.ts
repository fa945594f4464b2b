import { describe, expect, it } from 'vitest';
import { outboundMessage } from '../../api/src/routes/messaging';
import { UPLOAD_TYPES } from '@parley/domain';
import { buildButtons, buildList, buildMedia, kindOfFile, LIMITS, type MediaInput, UPLOAD_ACCEPT } from '../src/compose';

/**
 * The composer's checks hold the API's limits: what it builds the API accepts, and at each limit
 * plus one both refuse. Read against the API's own zod schema, so a limit changed on one side
 * only fails here.
 */
const x = (n: number) => 'x'.repeat(n);
const accepted = (body: unknown) => outboundMessage.safeParse(body).success;
const media = (over: Partial<MediaInput>): MediaInput => ({ kind: 'image', source: 'link', link: 'https://cdn.example.com/a.png', id: '', caption: '', filename: '', ...over });
const buttonsBody = (titles: string[]) => ({
  type: 'interactive',
  interactive: { type: 'button', body: { text: 'Pick one' }, action: { buttons: titles.map((title, i) => ({ type: 'reply', reply: { id: `b${i}`, title } })) } },
});

describe('the composer and the API agree', () => {
  it('on reply buttons: titles up to 20 characters, at most 3, all different', () => {
    const ok = buildButtons({ header: x(LIMITS.headerText), body: x(LIMITS.body), footer: x(LIMITS.footer), buttons: [x(20), 'Two', 'Three'] });
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(accepted(ok.body)).toBe(true);

    const long = buildButtons({ header: '', body: 'Pick one', footer: '', buttons: [x(21), '', ''] });
    expect(long).toEqual({ ok: false, problems: { button0: 'At most 20 characters (21 now).' } });
    expect(accepted(buttonsBody([x(21)]))).toBe(false);

    expect(buildButtons({ header: '', body: 'Pick one', footer: '', buttons: ['A', 'B', 'C', 'D'] })).toMatchObject({ ok: false, problems: { buttons: 'At most 3 buttons.' } });
    expect(accepted(buttonsBody(['A', 'B', 'C', 'D']))).toBe(false);

    expect(buildButtons({ header: '', body: 'Pick one', footer: '', buttons: ['Yes', 'Yes', ''] })).toMatchObject({ ok: false, problems: { button1: 'Button titles must differ.' } });
    expect(accepted(buttonsBody(['Yes', 'Yes']))).toBe(false);

    expect(buildButtons({ header: '', body: '', footer: '', buttons: ['', '', ''] })).toMatchObject({ ok: false, problems: { body: 'Write the message.', buttons: 'Give at least one button.' } });
    for (const [field, max] of [['header', LIMITS.headerText], ['body', LIMITS.body], ['footer', LIMITS.footer]] as const) {
      const built = buildButtons({ header: '', body: 'Pick', footer: '', buttons: ['A'], [field]: x(max + 1) });
      expect(built.ok, field).toBe(false);
    }
  });

  it('on lists: a button label up to 20, rows up to 24 with descriptions up to 72, at most 10 rows', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ title: `${x(22)}${String(i).padStart(2, '0')}`, description: x(72) }));
    const ok = buildList({ header: 'Menu', body: 'Choose', footer: 'Thanks', button: x(20), rows });
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(accepted(ok.body)).toBe(true);

    expect(buildList({ header: '', body: 'Choose', footer: '', button: 'Open', rows: [...rows, { title: 'Eleven', description: '' }] })).toMatchObject({ ok: false, problems: { rows: 'At most 10 rows.' } });
    expect(buildList({ header: '', body: 'Choose', footer: '', button: x(21), rows: [{ title: x(25), description: x(73) }] })).toEqual({
      ok: false,
      problems: { button: 'At most 20 characters (21 now).', row0: 'At most 24 characters (25 now).', rowDescription0: 'At most 72 characters (73 now).' },
    });
    const tooLong = { type: 'interactive', interactive: { type: 'list', body: { text: 'Choose' }, action: { button: 'Open', sections: [{ rows: [{ id: 'r', title: x(25) }] }] } } };
    expect(accepted(tooLong)).toBe(false);
    expect(accepted({ ...tooLong, interactive: { ...tooLong.interactive, action: { button: x(21), sections: [{ rows: [{ id: 'r', title: 'A' }] }] } } })).toBe(false);
  });

  it('on media: an https link or a media id, a caption up to 1024, none on audio', () => {
    for (const kind of ['image', 'video', 'document', 'audio'] as const) {
      const built = buildMedia(media({ kind, caption: x(LIMITS.caption), filename: kind === 'document' ? 'invoice.pdf' : '' }));
      expect(built.ok, kind).toBe(true);
      if (built.ok) expect(accepted(built.body), kind).toBe(true);
    }
    const byId = buildMedia(media({ source: 'id', id: '1234567890', link: '' }));
    expect(byId).toEqual({ ok: true, body: { type: 'image', image: { id: '1234567890' } } });
    if (byId.ok) expect(accepted(byId.body)).toBe(true);

    expect(buildMedia(media({ link: 'http://cdn.example.com/a.png' }))).toEqual({ ok: false, problems: { link: 'Meta fetches media over https only.' } });
    expect(accepted({ type: 'image', image: { link: 'http://cdn.example.com/a.png' } })).toBe(false);
    expect(buildMedia(media({ link: 'not a url' }))).toEqual({ ok: false, problems: { link: 'Not a web address.' } });
    expect(buildMedia(media({ caption: x(LIMITS.caption + 1) }))).toMatchObject({ ok: false, problems: { caption: expect.stringContaining('1024') } });
    expect(accepted({ type: 'image', image: { link: 'https://cdn.example.com/a.png', caption: x(LIMITS.caption + 1) } })).toBe(false);
    expect(buildMedia(media({ kind: 'document', filename: x(LIMITS.filename + 1) }))).toMatchObject({ ok: false, problems: { filename: expect.any(String) } });
    expect(accepted({ type: 'document', document: { link: 'https://cdn.example.com/a.pdf', filename: x(LIMITS.filename + 1) } })).toBe(false);
    // A caption typed before switching to audio is not sent: Meta takes none there.
    expect(buildMedia(media({ kind: 'audio', caption: 'ignored' }))).toEqual({ ok: true, body: { type: 'audio', audio: { link: 'https://cdn.example.com/a.png' } } });
    expect(accepted({ type: 'audio', audio: { link: 'https://cdn.example.com/a.ogg', caption: 'no' } })).toBe(false);
  });

  it('on the files it offers to upload: the types the API takes, each sent as the kind the API answers', () => {
    expect([...UPLOAD_ACCEPT].sort()).toEqual(Object.keys(UPLOAD_TYPES).sort());
    for (const [type, rule] of Object.entries(UPLOAD_TYPES)) expect(kindOfFile(type), type).toBe(rule.kind);
    expect(kindOfFile('application/x-msdownload')).toBeNull();
  });
});
