import { type EventMap, type EventName, type EventPattern, type EventsMatching, matchesPattern } from './events.js';
import type { WebhookEnvelope } from './webhook.js';

export interface EventFilter {
  /** Only events on this touchpoint; events not about one message (conversations, broadcasts) have none and pass, as in the platform's subscription filter. */
  touchpoint?: 'whatsapp';
}

export type Handler<P extends EventPattern> = (event: EventMap[EventsMatching<P>]) => unknown;
/** Called with a delivery no handler took (an event type this SDK version does not know, or unmatched). */
export type UnhandledHook = (event: WebhookEnvelope) => unknown;

interface Registration {
  patterns: readonly string[];
  filter: EventFilter | undefined;
  handler: (event: WebhookEnvelope) => unknown;
}

/**
 * Dispatches verified deliveries to the handlers whose pattern covers the event's type, with the
 * payload typed by the names the pattern covers. Event types added to the platform later reach
 * no typed handler: they are ignored, or given to `onUnhandled`.
 */
export class EventRouter {
  readonly #registrations: Registration[] = [];
  #unhandled: UnhandledHook | undefined;

  on<P extends EventPattern>(pattern: P | readonly P[], handler: Handler<P>): this;
  on<P extends EventPattern>(pattern: P | readonly P[], filter: EventFilter, handler: Handler<P>): this;
  on<P extends EventPattern>(pattern: P | readonly P[], filterOrHandler: EventFilter | Handler<P>, maybeHandler?: Handler<P>): this {
    const handler = typeof filterOrHandler === 'function' ? filterOrHandler : maybeHandler;
    if (typeof handler !== 'function') throw new TypeError('router.on needs a handler');
    const filter = typeof filterOrHandler === 'function' ? undefined : filterOrHandler;
    const patterns: readonly string[] = typeof pattern === 'string' ? [pattern] : pattern;
    this.#registrations.push({ patterns, filter, handler: handler as Registration['handler'] });
    return this;
  }

  onUnhandled(hook: UnhandledHook): this {
    this.#unhandled = hook;
    return this;
  }

  /** Whether some handler would receive this event. */
  handles(event: WebhookEnvelope): boolean {
    return this.#matching(event).length > 0;
  }

  /**
   * Runs every matching handler (one after another, in registration order) and answers how many
   * ran. A handler that throws makes dispatch reject, so the adapter answers 500 and the platform
   * delivers again: handlers should be idempotent on `event.id`.
   */
  async dispatch(event: WebhookEnvelope): Promise<number> {
    const matching = this.#matching(event);
    if (matching.length === 0) {
      await this.#unhandled?.(event);
      return 0;
    }
    for (const r of matching) await r.handler(event);
    return matching.length;
  }

  #matching(event: WebhookEnvelope): Registration[] {
    return this.#registrations.filter((r) => r.patterns.some((p) => matchesPattern(p, event.type)) && passes(r.filter, event));
  }
}

export function createEventRouter(): EventRouter {
  return new EventRouter();
}

/** As the platform filters subscriptions: events not about one message carry no touchpoint and pass. */
function passes(filter: EventFilter | undefined, event: WebhookEnvelope): boolean {
  if (!filter?.touchpoint) return true;
  const touchpoint = touchpointOf(event.data);
  return touchpoint === undefined || touchpoint === null || touchpoint === filter.touchpoint;
}

function touchpointOf(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return undefined;
  const { message, touchpoint } = data as { message?: unknown; touchpoint?: unknown };
  if (typeof message === 'object' && message !== null && 'touchpoint' in message) return message.touchpoint;
  return touchpoint;
}

export type { EventName };
