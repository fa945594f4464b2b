import { stableDigits } from './ids';

export type TemplateCategory = 'MARKETING' | 'UTILITY' | 'AUTHENTICATION';
export type TemplateStatus = 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED' | 'DISABLED';

/** A template component exactly as `GET /{waba-id}/message_templates` returns it. */
export type TemplateComponent = Record<string, unknown> & { type: string };

export interface MessageTemplate {
  id: string;
  name: string;
  parameter_format: 'POSITIONAL' | 'NAMED';
  components: TemplateComponent[];
  language: string;
  status: TemplateStatus;
  category: TemplateCategory;
  [extra: string]: unknown;
}

export interface TemplateInput {
  name: string;
  language: string;
  category: TemplateCategory;
  components: TemplateComponent[];
  status?: TemplateStatus;
  parameter_format?: 'POSITIONAL' | 'NAMED';
  id?: string;
  [extra: string]: unknown;
}

/** Template ids are stable per WABA, name and language so that re-syncs after a restart match. */
export function templateId(wabaId: string, name: string, language: string): string {
  return stableDigits(`template:${wabaId}:${name}:${language}`, 16);
}

export function toTemplate(wabaId: string, input: TemplateInput): MessageTemplate {
  const { name, language, category, components, status, parameter_format, id, ...extra } = structuredClone(input);
  return {
    ...extra,
    name,
    parameter_format: parameter_format ?? 'POSITIONAL',
    components,
    language,
    status: status ?? 'APPROVED',
    category,
    id: id ?? templateId(wabaId, name, language),
  };
}

/** Five templates covering the shapes Parley's validator must handle. */
export function seedTemplateInputs(): TemplateInput[] {
  return [
    {
      name: 'hello_world',
      language: 'en_US',
      category: 'UTILITY',
      components: [
        {
          type: 'BODY',
          text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.',
        },
      ],
    },
    {
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      components: [
        { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}', example: { header_text: ['#4521'] } },
        {
          type: 'BODY',
          text: 'Hi {{1}}, your order is now {{2}}. Reply to this message if you have any questions.',
          example: { body_text: [['Maria', 'out for delivery']] },
        },
        { type: 'FOOTER', text: 'Parley Sandbox Store' },
      ],
    },
    {
      name: 'promo_image',
      language: 'en_US',
      category: 'MARKETING',
      components: [
        {
          type: 'HEADER',
          format: 'IMAGE',
          example: { header_handle: ['https://scontent.whatsapp.net/v/t61.29466-34/sandbox-promo-image.jpg'] },
        },
        { type: 'BODY', text: 'Summer sale! Get {{1}} off everything until {{2}}.', example: { body_text: [['20%', 'Sunday']] } },
        { type: 'FOOTER', text: 'Reply STOP to unsubscribe' },
        {
          type: 'BUTTONS',
          buttons: [
            { type: 'URL', text: 'Shop now', url: 'https://shop.example.com/promo/{{1}}', example: ['https://shop.example.com/promo/summer-sale'] },
            { type: 'QUICK_REPLY', text: 'Stop promotions' },
          ],
        },
      ],
    },
    {
      name: 'named_params',
      language: 'en_US',
      category: 'UTILITY',
      parameter_format: 'NAMED',
      components: [
        {
          type: 'HEADER',
          format: 'TEXT',
          text: 'Hello {{first_name}}',
          example: { header_text_named_params: [{ param_name: 'first_name', example: 'Pablo' }] },
        },
        {
          type: 'BODY',
          text: 'Hi {{first_name}}, your appointment at {{location}} is confirmed for {{date}}.',
          example: {
            body_text_named_params: [
              { param_name: 'first_name', example: 'Pablo' },
              { param_name: 'location', example: 'Main Street clinic' },
              { param_name: 'date', example: 'May 5 at 10:00' },
            ],
          },
        },
      ],
    },
    {
      name: 'otp',
      language: 'en_US',
      category: 'AUTHENTICATION',
      components: [
        {
          type: 'BODY',
          text: '*{{1}}* is your verification code. For your security, do not share this code.',
          add_security_recommendation: true,
          example: { body_text: [['123456']] },
        },
        { type: 'FOOTER', text: 'This code expires in 10 minutes.', code_expiration_minutes: 10 },
        {
          type: 'BUTTONS',
          buttons: [
            {
              type: 'URL',
              text: 'Copy code',
              url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code_expiration_minutes=10&code=otp{{1}}',
              example: ['https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code_expiration_minutes=10&code=otp123456'],
            },
          ],
        },
      ],
    },
  ];
}

/** The placeholders of a component text: `{{1}}` or `{{first_name}}`, each counted once. */
export function placeholders(text: unknown): string[] {
  if (typeof text !== 'string') return [];
  return [...new Set([...text.matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)].map((m) => m[1] as string))];
}

// Cursors are opaque to clients, as Meta's are; inside they are just positions in the list.
export function encodeCursor(index: number): string {
  return Buffer.from(`sandbox:${index}`).toString('base64url');
}

export function decodeCursor(cursor: string): number | undefined {
  const m = /^sandbox:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  return m ? Number(m[1]) : undefined;
}

export interface Page<T> {
  data: T[];
  paging?: { cursors: { before: string; after: string }; next?: string; previous?: string };
}

/**
 * Cursor paging the way Graph edges do it: `after`/`before` cursors name items, `next` and
 * `previous` are full URLs present only when there is more in that direction.
 */
export function paginate<T>(items: T[], query: URLSearchParams, linkFor: (params: URLSearchParams) => string, defaultLimit = 25): Page<T> {
  const limit = Math.max(1, Math.min(Number(query.get('limit')) || defaultLimit, 1000));
  let start = 0;
  const after = query.get('after');
  const before = query.get('before');
  if (after) start = (decodeCursor(after) ?? -1) + 1;
  else if (before) start = Math.max(0, (decodeCursor(before) ?? 0) - limit);
  const end = before && !after ? Math.min(decodeCursor(before) ?? 0, start + limit) : start + limit;
  const data = items.slice(start, end);
  if (!data.length) return { data };
  const first = start;
  const last = start + data.length - 1;
  const page: Page<T> = { data, paging: { cursors: { before: encodeCursor(first), after: encodeCursor(last) } } };
  const link = (key: 'after' | 'before', cursor: string) => {
    const params = new URLSearchParams(query);
    params.delete('after');
    params.delete('before');
    params.set('limit', String(limit));
    params.set(key, cursor);
    return linkFor(params);
  };
  if (last < items.length - 1) page.paging!.next = link('after', encodeCursor(last));
  if (first > 0) page.paging!.previous = link('before', encodeCursor(first));
  return page;
}
