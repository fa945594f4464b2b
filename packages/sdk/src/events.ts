import type { webhooks } from './generated/openapi.js';

type Json<T> = T extends { content: { 'application/json': infer J } } ? J : never;
type DeliveryBody<W> = W extends { post: infer Op } ? (Op extends { requestBody?: infer RB } ? Json<NonNullable<RB>> : never) : never;

/**
 * Every event name with the body of its delivery (`{id, type, createdAt, organizationId,
 * sequence, data}`), read from the `webhooks` section of the platform's OpenAPI document.
 */
export type EventMap = { [K in keyof webhooks & string]: DeliveryBody<webhooks[K]> };
export type EventName = keyof EventMap & string;
export type ParleyEvent<N extends EventName = EventName> = EventMap[N];

type Join<A extends string, B extends string> = A extends '' ? B : `${A}.${B}`;
/** 'a.b.c' -> 'a' | 'a.b' | 'a.b.c' */
type Prefixes<S extends string, Acc extends string = ''> = S extends `${infer Head}.${infer Rest}` ? Join<Acc, Head> | Prefixes<Rest, Join<Acc, Head>> : Join<Acc, S>;

/** An event name, or a prefix of one that ends at a segment boundary (`message`, `message.create.contact.chat`). */
export type EventPattern = Prefixes<EventName>;

/** The event names a pattern covers. */
export type EventsMatching<P extends string> = { [N in EventName]: N extends P ? N : N extends `${P}.${string}` ? N : never }[EventName];

/** The contract's subscription rule: the name itself, or any name below it at a `.` boundary. */
export function matchesPattern(pattern: string, type: string): boolean {
  return type === pattern || (pattern !== '' && type.startsWith(`${pattern}.`));
}
