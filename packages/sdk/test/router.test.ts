import { describe, expect, expectTypeOf, it } from 'vitest';
import { createEventRouter, matchesPattern, type EventMap, type EventPattern, type EventsMatching, type ParleyEvent, type WebhookEnvelope } from '../src/index.js';

function event(type: string, data: Record<string, unknown> = { touchpoint: 'whatsapp' }): WebhookEnvelope {
  return { id: `evt_${type}`, type, createdAt: '2026-11-29T19:00:00.000Z', organizationId: 'org_1', sequence: 1, data };
}

describe('event router', () => {
  it('matches names and prefixes at segment boundaries only', () => {
    expect(matchesPattern('message.create.contact.chat', 'message.create.contact.chat.contact')).toBe(true);
    expect(matchesPattern('message.create.contact.chat', 'message.create.contact.chat.agent')).toBe(true);
    expect(matchesPattern('message.create.contact.chat', 'message.create.contact.chat.bot')).toBe(true);
    expect(matchesPattern('message', 'message.update')).toBe(true);
    expect(matchesPattern('message.update', 'message.update')).toBe(true);
    expect(matchesPattern('message.cre', 'message.create.contact.chat.contact')).toBe(false);
    expect(matchesPattern('message.create.contact.chat', 'message.update')).toBe(false);
    expect(matchesPattern('message.create.contact.chat.contact', 'message.create.contact.chat')).toBe(false);
    expect(matchesPattern('', 'message.update')).toBe(false);
  });

  it('dispatches one delivery to every matching handler, in order', async () => {
    const seen: string[] = [];
    const router = createEventRouter()
      .on('message.create.contact.chat', (e) => void seen.push(`chat:${e.type}`))
      .on('message', (e) => void seen.push(`message:${e.type}`))
      .on('message.create.contact.chat.contact', (e) => void seen.push(`contact:${e.type}`))
      .on('conversation', (e) => void seen.push(`conversation:${e.type}`))
      .on('message.cre' as EventPattern, () => void seen.push('never'));

    expect(await router.dispatch(event('message.create.contact.chat.contact'))).toBe(3);
    expect(seen).toEqual(['chat:message.create.contact.chat.contact', 'message:message.create.contact.chat.contact', 'contact:message.create.contact.chat.contact']);
    seen.length = 0;
    await router.dispatch(event('message.create.contact.chat.bot'));
    await router.dispatch(event('message.update'));
    expect(seen).toEqual(['chat:message.create.contact.chat.bot', 'message:message.create.contact.chat.bot', 'message:message.update']);
  });

  it('applies the touchpoint filter as the platform does: to a message event\'s touchpoint; events without one pass', async () => {
    const seen: string[] = [];
    const router = createEventRouter().on(['message', 'conversation'], { touchpoint: 'whatsapp' }, (e) => void seen.push(e.id));
    const message = (id: string, touchpoint: string) => ({ ...event('message.create.contact.chat.contact', { message: { touchpoint }, contact: {} }), id });
    await router.dispatch(message('wa', 'whatsapp'));
    await router.dispatch(message('sms', 'sms'));
    await router.dispatch({ ...event('conversation.update', { conversation: { id: 'c1' } }), id: 'conversation' });
    expect(seen).toEqual(['wa', 'conversation']);
  });

  it('ignores unknown event types, or hands them to onUnhandled', async () => {
    const handled: string[] = [];
    const router = createEventRouter().on('message', () => void handled.push('message'));
    expect(await router.dispatch(event('invoice.paid'))).toBe(0);
    const unhandled: string[] = [];
    router.onUnhandled((e) => void unhandled.push(e.type));
    await router.dispatch(event('invoice.paid'));
    await router.dispatch(event('messages.bulk'));
    await router.dispatch(event('message.update'));
    expect(unhandled).toEqual(['invoice.paid', 'messages.bulk']);
    expect(handled).toEqual(['message']);
  });

  it('lets a handler failure reach the caller (so the receiver answers 500)', async () => {
    const router = createEventRouter().on('message.update', () => {
      throw new Error('database down');
    });
    await expect(router.dispatch(event('message.update'))).rejects.toThrow('database down');
  });

  it('types handler payloads by the names a pattern covers', () => {
    expectTypeOf<EventsMatching<'message.create.contact.chat'>>().toEqualTypeOf<
      'message.create.contact.chat.contact' | 'message.create.contact.chat.agent' | 'message.create.contact.chat.bot'
    >();
    expectTypeOf<EventsMatching<'message'>>().toEqualTypeOf<
      'message.create.contact.chat.contact' | 'message.create.contact.chat.agent' | 'message.create.contact.chat.bot' | 'message.update'
    >();
    expectTypeOf<EventsMatching<'broadcast'>>().toEqualTypeOf<'broadcast.update' | 'broadcast.completed'>();
    expectTypeOf<'message.cre'>().not.toExtend<EventPattern>();
    expectTypeOf<'message.create.contact'>().toExtend<EventPattern>();
    expectTypeOf<'webhook.disabled'>().toExtend<EventPattern>();

    createEventRouter()
      .on('message.create.contact.chat', { touchpoint: 'whatsapp' }, (e) => {
        expectTypeOf(e.type).toEqualTypeOf<'message.create.contact.chat.contact' | 'message.create.contact.chat.agent' | 'message.create.contact.chat.bot'>();
        expectTypeOf(e).toEqualTypeOf<EventMap['message.create.contact.chat.contact'] | EventMap['message.create.contact.chat.agent'] | EventMap['message.create.contact.chat.bot']>();
        expectTypeOf(e.data.message.conversationId).toEqualTypeOf<string>();
        expectTypeOf(e.data.contact.phone).toEqualTypeOf<string | null>();
        expectTypeOf(e.organizationId).toEqualTypeOf<string>();
      })
      .on('conversation.update', (e) => {
        expectTypeOf(e).toEqualTypeOf<ParleyEvent<'conversation.update'>>();
        expectTypeOf(e.type).toEqualTypeOf<'conversation.update'>();
      })
      .on(['broadcast.completed', 'message.update'], (e) => {
        expectTypeOf(e.type).toEqualTypeOf<'broadcast.completed' | 'message.update'>();
      });
    // @ts-expect-error a prefix must end at a segment boundary
    createEventRouter().on('message.cre', () => undefined);
    // @ts-expect-error only the contract's touchpoints
    createEventRouter().on('message', { touchpoint: 'sms' }, () => undefined);
  });
});
