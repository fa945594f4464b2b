// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { recipientReason } from './BroadcastRecipients';

describe('a recipient’s reason on the broadcast screen', () => {
  it('is Meta’s title, details and code, without the details when they only repeat the title', () => {
    expect(recipientReason({ status: 'failed', skipReason: null, error: { code: 131026, title: 'Message undeliverable', details: 'Message Undeliverable.' } })).toBe('Message undeliverable (131026)');
    expect(recipientReason({ status: 'failed', skipReason: null, error: { code: 131049, title: 'Meta chose not to deliver.', details: 'This message was not delivered to maintain healthy ecosystem engagement.' } })).toBe(
      'Meta chose not to deliver. — This message was not delivered to maintain healthy ecosystem engagement. (131049)',
    );
  });

  it('says why a recipient was skipped or left unconfirmed, and nothing for the others', () => {
    expect(recipientReason({ status: 'skipped', skipReason: 'opted_out', error: null })).toBe('The contact opted out.');
    expect(recipientReason({ status: 'skipped', skipReason: 'marketing_opted_out', error: null })).toBe('The contact stopped marketing messages.');
    expect(recipientReason({ status: 'unknown', skipReason: null, error: null })).toMatch(/did not confirm/);
    expect(recipientReason({ status: 'read', skipReason: null, error: null })).toBe('');
  });
});
