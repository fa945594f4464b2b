import { type Clock, DomainError, ForbiddenError, isId, newId, NotFoundError, ValidationError } from '@parley/core';
import { ConsentEvent, Contact, Organization, type OrganizationSettings } from '@parley/db';
import { keysetWhere, type PageRequest, toPage } from './pagination';
import type { TenantScope } from './scope';
import type { ContactRef } from './events';
import { queueMessage } from './sending';
import { perTransaction, type SqlRunner } from './sql';

/** Contract defaults; each organization may replace them (PUT /v1/settings/opt-out). */
export const DEFAULT_OPT_OUT = {
  keywords: ['optout', 'stop', 'unsubscribe'],
  optInKeywords: ['start', 'optin'],
  confirmationText: 'You will no longer receive messages from us. Reply START to subscribe again.',
  optInConfirmationText: 'You are subscribed again. Reply STOP to unsubscribe.',
};

export interface OptOutSettings {
  keywords: string[];
  optInKeywords: string[];
  /** The reply sent on opt-out; null sends none. */
  confirmationText: string | null;
  optInConfirmationText: string | null;
}

export function optOutSettings(settings: OrganizationSettings | null | undefined): OptOutSettings {
  const s = settings?.optOut ?? {};
  return {
    keywords: s.keywords ?? DEFAULT_OPT_OUT.keywords,
    optInKeywords: s.optInKeywords ?? DEFAULT_OPT_OUT.optInKeywords,
    confirmationText: s.confirmationText === undefined ? DEFAULT_OPT_OUT.confirmationText : s.confirmationText,
    optInConfirmationText: s.optInConfirmationText === undefined ? DEFAULT_OPT_OUT.optInConfirmationText : s.optInConfirmationText,
  };
}

export function normalizeKeyword(text: string): string {
  return text.trim().toLowerCase();
}

/** Why a confirmation may be refused by the send rules, leaving the keyword's effect in place. */
const UNSENDABLE = new Set(['outside_customer_service_window', 'contact_has_no_phone', 'conversation_closed']);

const settingsRead = perTransaction<OptOutSettings>();

/** The organization's opt-out settings, read once per transaction. */
function settingsIn(sql: SqlRunner, organizationId: string): Promise<OptOutSettings> {
  return settingsRead(sql, organizationId, async () => {
    const [org] = await sql.all<{ settings: OrganizationSettings }>('select settings from organizations where id = ?', [organizationId]);
    return optOutSettings(org?.settings);
  });
}

/**
 * An inbound text equal (ignoring case and surrounding space) to a keyword changes consent: the
 * contact row, a ledger entry with time and cause, and the confirmation reply, queued through the
 * one send path as the platform (the contact just wrote, so the window is normally open).
 */
export async function applyConsentKeyword(
  sql: SqlRunner,
  input: { organizationId: string; contact: ContactRef; conversationId: string; channelId: string; text: string; wamid: string; at: Date },
): Promise<void> {
  const settings = await settingsIn(sql, input.organizationId);
  const word = normalizeKeyword(input.text);
  const optOut = settings.keywords.map(normalizeKeyword).includes(word);
  const optIn = !optOut && settings.optInKeywords.map(normalizeKeyword).includes(word);
  if (!optOut && !optIn) return;
  const changed = await sql.all<{ id: string }>(
    `update contacts set opted_out = ?, opted_out_at = ?, updated_at = ? where id = ? and opted_out = ? returning id`,
    [optOut, optOut ? input.at : null, input.at, input.contact.id, !optOut],
  );
  if (!changed.length) return;
  await sql.run(
    `insert into consent_events (id, organization_id, contact_id, change, cause, detail, created_at) values (?, ?, ?, ?, 'keyword', ?, ?)`,
    [newId(), input.organizationId, input.contact.id, optOut ? 'opt_out' : 'opt_in', `${input.text.trim()} (${input.wamid})`, input.at],
  );
  const reply = optOut ? settings.confirmationText : settings.optInConfirmationText;
  if (!reply) return;
  try {
    await queueMessage(
      sql,
      input.organizationId,
      { kind: 'system', reason: 'consent', consent: optOut ? 'opt_out' : 'opt_in' },
      // On the channel the keyword came in on, even if the conversation began on another.
      { conversationId: input.conversationId, channelId: input.channelId, content: { type: 'text', text: reply } },
      input.at,
    );
  } catch (err) {
    // The consent change stands without its confirmation when none may be sent (a keyword
    // delivered after the window closed, a contact known only by username): nothing to retry.
    if (!(err instanceof DomainError && UNSENDABLE.has(err.code))) throw err;
  }
}

/** The organization's consent settings and each contact's ledger. */
export class OrganizationSettingsService {
  constructor(private readonly clock: Clock) {}

  async optOut(scope: TenantScope): Promise<OptOutSettings> {
    const org = await scope.em.findOneOrFail(Organization, { id: scope.organizationId });
    return optOutSettings(org.settings);
  }

  async updateOptOut(scope: TenantScope, patch: Partial<OptOutSettings>): Promise<OptOutSettings> {
    return scope.em.fork().transactional(async (tx) => {
      const org = await tx.findOneOrFail(Organization, { id: scope.organizationId });
      const clean = (words: string[] | undefined) => (words ? [...new Set(words.map(normalizeKeyword).filter(Boolean))] : undefined);
      const merged = { ...org.settings.optOut };
      if (patch.keywords !== undefined) merged.keywords = clean(patch.keywords);
      if (patch.optInKeywords !== undefined) merged.optInKeywords = clean(patch.optInKeywords);
      if (patch.confirmationText !== undefined) merged.confirmationText = patch.confirmationText;
      if (patch.optInConfirmationText !== undefined) merged.optInConfirmationText = patch.optInConfirmationText;
      const overlap = (merged.keywords ?? DEFAULT_OPT_OUT.keywords).filter((k) => (merged.optInKeywords ?? DEFAULT_OPT_OUT.optInKeywords).includes(k));
      if (overlap.length) throw new ValidationError([{ path: 'optInKeywords', message: `Also an opt-out keyword: ${overlap.join(', ')}.` }]);
      org.settings = { ...org.settings, optOut: merged };
      org.updatedAt = this.clock.now();
      await tx.flush();
      return optOutSettings(org.settings);
    });
  }

  async consentLedger(scope: TenantScope, contactId: string, page: PageRequest) {
    const contact = isId(contactId) ? await scope.em.findOne(Contact, { id: contactId }) : null;
    if (!contact) throw new NotFoundError('contact');
    const rows = await scope.em.find(ConsentEvent, { contact: contact.id, ...keysetWhere(page.cursor) }, { orderBy: { id: 'desc' }, limit: page.limit + 1 });
    return {
      contact: { id: contact.id, phone: contact.phone ?? null, optedOut: contact.optedOut, marketingOptedOut: contact.marketingOptedOut },
      ...toPage(rows, page.limit, (e) => ({ id: e.id, change: e.change, cause: e.cause, detail: e.detail, at: e.createdAt.toISOString() })),
    };
  }

  /**
   * Records consent given or withdrawn outside WhatsApp. Withdrawing is open to every caller that
   * may write conversations; giving it back reverses the contact's own STOP, so only the contact
   * (by keyword) or a tenant admin saying how consent was given may do it.
   */
  async setConsent(scope: TenantScope, contactId: string, optedOut: boolean, note: string | undefined) {
    if (!optedOut) {
      if (scope.principal.kind !== 'user' || scope.principal.role !== 'admin') {
        throw new ForbiddenError('Only a tenant admin can opt a contact back in; the contact can by writing an opt-in keyword.');
      }
      if (!note?.trim()) throw new ValidationError([{ path: 'note', message: 'Say how the contact gave consent again.' }]);
    }
    const now = this.clock.now();
    await scope.em.fork().transactional(async (tx) => {
      const contact = isId(contactId) ? await tx.findOne(Contact, { id: contactId }) : null;
      if (!contact) throw new NotFoundError('contact');
      if (contact.optedOut === optedOut) return;
      contact.optedOut = optedOut;
      contact.optedOutAt = optedOut ? now : null;
      tx.persist(new ConsentEvent(scope.organizationId, contact.id, optedOut ? 'opt_out' : 'opt_in', 'api', note ?? `${scope.principal.kind}`));
      await tx.flush();
    });
    return this.consentLedger(scope, contactId, { limit: 50 });
  }
}
