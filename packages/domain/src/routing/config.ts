import { z } from 'zod';
import { decisionTreeSchema, type DestinationKind, destinationSchema } from './tree';

/**
 * The routing document: every routing object of an organization in one value, so a draft, a
 * version and a scheduled apply are each one JSON document that goes live whole. Objects carry
 * server-minted ids; references between them are by id and checked by `validateRoutingDocument`.
 */

const objectId = z.string().min(1).max(64);

/**
 * Where a chat goes: the tree's destination shape, with ids required where an object is meant
 * (a bare `terminate` ends the chat with no set-up; `assistant` is the channel's own).
 */
export const routingDestinationSchema = destinationSchema.superRefine((d, ctx) => {
  if (d.kind === 'assistant' && d.id !== undefined) ctx.addIssue({ code: 'custom', path: ['id'], message: 'The assistant destination takes no id: it is the channel’s own.' });
  if (d.kind !== 'assistant' && d.kind !== 'terminate' && d.id === undefined) ctx.addIssue({ code: 'custom', path: ['id'], message: `A ${d.kind} destination needs the id of one.` });
});

const name = z.string().trim().min(1).max(200);

/** Placeholders a queue's auto-response may use; the runtime fills them with `fillQueuePlaceholders`. */
export const QUEUE_PLACEHOLDERS = ['queue.position', 'queue.averageWaitMinutes', 'queue.name'] as const;

const autoResponseText = z
  .string()
  .trim()
  .min(1)
  .max(1024)
  .superRefine((text, ctx) => {
    for (const match of text.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      if (!(QUEUE_PLACEHOLDERS as readonly string[]).includes(match[1]!)) {
        ctx.addIssue({ code: 'custom', message: `Unknown placeholder {{${match[1]}}}; a queue’s auto-response may use ${QUEUE_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}.` });
      }
    }
  });

export const queueInput = z
  .object({
    name,
    priority: z.number().int().min(0).max(100).default(0).describe('Higher first when an agent’s queues compete (0-100, default 0).'),
    agentIds: z.array(objectId).max(1000).default([]).describe('Users of the organization who work this queue.'),
    autoResponse: autoResponseText
      .nullable()
      .default(null)
      .describe('Sent to the contact when the conversation enters the queue; may use {{queue.position}}, {{queue.averageWaitMinutes}} and {{queue.name}}.'),
  })
  .strict();

/** `HH:MM` of the wall clock in the organization's time zone; `24:00` only as the end of a day. */
const clock = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'A time of day as HH:MM (00:00-24:00).');

export const timeRangeSchema = z
  .object({ from: clock, to: clock })
  .strict()
  .superRefine((r, ctx) => {
    if (r.from === '24:00') ctx.addIssue({ code: 'custom', path: ['from'], message: 'A range cannot start at 24:00.' });
    if (r.from === r.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'A range must not start and end at the same time.' });
  })
  .describe('Open from `from` until `to`; when `to` is earlier than `from` the range runs past midnight into the next day.');
export type TimeRange = z.output<typeof timeRangeSchema>;

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const ranges = z.array(timeRangeSchema).max(12);
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'A date as YYYY-MM-DD.')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'Not a calendar date.');

export const timeGroupInput = z
  .object({
    name,
    weekly: z
      .object(Object.fromEntries(WEEKDAYS.map((d) => [d, ranges.default([])])) as Record<Weekday, z.ZodDefault<typeof ranges>>)
      .strict()
      .default(Object.fromEntries(WEEKDAYS.map((d) => [d, []])) as unknown as Record<Weekday, TimeRange[]>)
      .describe('Opening hours per weekday, several ranges a day allowed.'),
    holidays: z.array(z.object({ date: isoDate, name: z.string().trim().max(200).optional() }).strict()).max(500).default([]).describe('Dates closed all day.'),
    overrides: z
      .array(
        z
          .object({
            date: isoDate,
            closed: z.boolean().describe('`true`: closed all day; `false`: open during `ranges` instead of the weekly hours.'),
            ranges: ranges.optional(),
          })
          .strict()
          .superRefine((o, ctx) => {
            if (o.closed && o.ranges?.length) ctx.addIssue({ code: 'custom', path: ['ranges'], message: 'A closed day has no ranges.' });
            if (!o.closed && !o.ranges?.length) ctx.addIssue({ code: 'custom', path: ['ranges'], message: 'An open override needs its ranges.' });
          }),
      )
      .max(500)
      .default([])
      .describe('One-off days that replace the weekly hours; they win over holidays.'),
    includes: z.array(objectId).max(50).default([]).describe('Time groups whose hours, holidays and overrides this one takes in (a shared bank-holidays group).'),
  })
  .strict();

export const timeConditionInput = z
  .object({
    name,
    timeGroupId: objectId,
    whenOpen: routingDestinationSchema.describe('Where the chat goes while the time group is open.'),
    whenClosed: routingDestinationSchema.describe('Where it goes otherwise.'),
  })
  .strict();

export const decisionTreeInput = z.object({ name, tree: decisionTreeSchema }).strict();

export const chatbotInput = z
  .object({
    name,
    url: z.string().trim().min(1).max(2048).describe('The bot’s endpoint; the partner-webhook target rules apply (https, no private addresses).'),
    customFields: z.array(z.string().trim().min(1).max(100)).max(50).default([]).describe('Contact fields sent to the bot with each message.'),
    fallback: routingDestinationSchema.describe('Takes the chat when the bot fails or times out.'),
    timeoutMs: z.number().int().min(500).max(30_000).default(5000),
  })
  .strict();

export const terminateInput = z
  .object({
    name,
    cause: z.string().trim().min(1).max(200).describe('Disconnection cause, internal (reports).'),
    autoResponseTemplate: z.string().trim().min(1).max(512).nullable().default(null).describe('Name of a message template sent on ending, where consent and the window allow.'),
    answered: z.boolean().default(false),
    missedChatQueueId: objectId.nullable().default(null).describe('Queue the chat counts against in missed-chat reports.'),
  })
  .strict();

export const ATTACHMENT_POLICIES = ['none', 'from_contact', 'both'] as const;

export const channelRoutingInput = z
  .object({
    first: routingDestinationSchema.describe('Where a new or reopened conversation on this channel goes first.'),
    attachments: z.enum(ATTACHMENT_POLICIES).default('both').describe('`none`, `from_contact` (contacts may send, agents not), or `both`.'),
  })
  .strict();

const withId = <T extends z.ZodRawShape>(input: z.ZodObject<T>) => input.extend({ id: objectId }).strict();

export const queueSchema = withId(queueInput);
export const timeGroupSchema = withId(timeGroupInput);
export const timeConditionSchema = withId(timeConditionInput);
export const decisionTreeEntrySchema = withId(decisionTreeInput);
export const chatbotSchema = withId(chatbotInput);
export const terminateSchema = withId(terminateInput);
export const channelRoutingSchema = channelRoutingInput.extend({ channelId: objectId }).strict();

export type Queue = z.output<typeof queueSchema>;
export type TimeGroup = z.output<typeof timeGroupSchema>;
export type TimeCondition = z.output<typeof timeConditionSchema>;
export type DecisionTreeEntry = z.output<typeof decisionTreeEntrySchema>;
export type Chatbot = z.output<typeof chatbotSchema>;
export type Terminate = z.output<typeof terminateSchema>;
export type ChannelRouting = z.output<typeof channelRoutingSchema>;

export const routingDocumentSchema = z
  .object({
    queues: z.array(queueSchema).max(500).default([]),
    timeGroups: z.array(timeGroupSchema).max(500).default([]),
    timeConditions: z.array(timeConditionSchema).max(500).default([]),
    decisionTrees: z.array(decisionTreeEntrySchema).max(500).default([]),
    chatbots: z.array(chatbotSchema).max(200).default([]),
    terminates: z.array(terminateSchema).max(200).default([]),
    channels: z.array(channelRoutingSchema).max(500).default([]),
  })
  .strict();
export type RoutingDocument = z.output<typeof routingDocumentSchema>;

export function emptyRoutingDocument(): RoutingDocument {
  return { queues: [], timeGroups: [], timeConditions: [], decisionTrees: [], chatbots: [], terminates: [], channels: [] };
}

/** The object kinds with an id, as the API names them in paths and in the compare. */
export const OBJECT_KINDS = {
  queues: { key: 'queues', destination: 'queue', label: 'queue' },
  'time-groups': { key: 'timeGroups', destination: null, label: 'time group' },
  'time-conditions': { key: 'timeConditions', destination: 'time_condition', label: 'time condition' },
  'decision-trees': { key: 'decisionTrees', destination: 'decision_tree', label: 'decision tree' },
  chatbots: { key: 'chatbots', destination: 'chatbot', label: 'chatbot connector' },
  terminates: { key: 'terminates', destination: 'terminate', label: 'terminate' },
} as const;
export type ObjectSegment = keyof typeof OBJECT_KINDS;
export type ObjectKey = (typeof OBJECT_KINDS)[ObjectSegment]['key'];

/** Where destinations of each kind are kept in the document. */
export const DESTINATION_COLLECTION: Record<Exclude<DestinationKind, 'assistant'>, ObjectKey> = {
  queue: 'queues',
  time_condition: 'timeConditions',
  decision_tree: 'decisionTrees',
  chatbot: 'chatbots',
  terminate: 'terminates',
};

export function findObject<K extends ObjectKey>(doc: RoutingDocument, key: K, id: string): RoutingDocument[K][number] | undefined {
  return (doc[key] as { id: string }[]).find((o) => o.id === id) as RoutingDocument[K][number] | undefined;
}
