import { randomBytes } from 'node:crypto';
import { type Clock, ForbiddenError, isId, NotFoundError, type SecretBox, UnprocessableError, ValidationError, newId } from '@parley/core';
import type { Scope } from '../access';
import { EVENT_TYPES, eventMatches, isValidEventFilter } from '../events';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../pagination';
import type { TenantScope } from '../scope';
import { type SqlRunner, sqlRunner } from '../sql';
import type { WebhookHttpClient } from './http';
import { resolveWebhookTarget, type TargetPolicy } from './target';

/** After a rotation the previous secret keeps signing this long, so receivers can roll over. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 60 * 60 * 1000;

export interface WebhookSubscriptionView {
  id: string;
  url: string;
  events: string[];
  filter: { touchpoint: string | null };
  description: string | null;
  status: 'active' | 'disabled';
  disabledReason: string | null;
  disabledAt: string | null;
  /** Since when every attempt has failed; null while the endpoint answers. */
  failingSince: string | null;
  installationId: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface SubscriptionRow {
  id: string;
  organization_id: string;
  installation_id: string | null;
  url: string;
  events: string[];
  touchpoint: string | null;
  description: string | null;
  status: 'active' | 'disabled';
  secret_ciphertext: string;
  previous_secret_ciphertext: string | null;
  previous_secret_expires_at: Date | null;
  failing_since: Date | null;
  disabled_reason: string | null;
  disabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export function subscriptionView(row: SubscriptionRow, now: Date): WebhookSubscriptionView {
  const graceLeft = row.previous_secret_expires_at && new Date(row.previous_secret_expires_at) > now;
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    filter: { touchpoint: row.touchpoint },
    description: row.description,
    status: row.status,
    disabledReason: row.disabled_reason,
    disabledAt: iso(row.disabled_at),
    failingSince: iso(row.failing_since),
    installationId: row.installation_id,
    previousSecretExpiresAt: graceLeft ? iso(row.previous_secret_expires_at) : null,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  };
}

/** A signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * What a subscriber must hold to receive an event: access to its resource family, read or write
 * (the events carry the same views the API returns, and a token that may write conversations
 * already sees them in its answers). A subscription must not show a partner more than its scopes.
 */
const SCOPES_OF_RESOURCE: Record<string, readonly Scope[]> = {
  message: ['conversations:read', 'conversations:write'],
  conversation: ['conversations:read', 'conversations:write'],
  broadcast: ['broadcasts:read', 'broadcasts:write'],
  webhook: ['webhooks:read', 'webhooks:write'],
};

export interface SubscriptionInput {
  url: string;
  events: string[];
  filter?: { touchpoint?: string | null | undefined } | undefined;
  description?: string | null | undefined;
}

export interface SubscriptionPatch {
  url?: string | undefined;
  events?: string[] | undefined;
  filter?: { touchpoint?: string | null | undefined } | undefined;
  description?: string | null | undefined;
  status?: 'active' | 'disabled' | undefined;
}

export class WebhookVerificationFailedError extends UnprocessableError {
  constructor(detail: string) {
    super('webhook_verification_failed', detail);
  }
}

/**
 * Partner webhook subscriptions. A partner (installation) sees and manages only its own; a tenant
 * admin sees every subscription of the organization. A subscription is active only once its URL
 * answered the verification challenge, and its signing secret is shown once, on creation or
 * rotation, and kept only encrypted.
 */
export class WebhookSubscriptionService {
  constructor(
    private readonly secrets: SecretBox,
    private readonly http: WebhookHttpClient,
    private readonly policy: TargetPolicy,
    private readonly clock: Clock,
  ) {}

  async create(scope: TenantScope, input: SubscriptionInput): Promise<WebhookSubscriptionView & { secret: string }> {
    const events = this.checkEvents(scope, input.events);
    await this.verify(input.url);
    const id = newId();
    const secret = newSigningSecret();
    const now = this.clock.now();
    const [row] = await sqlRunner(scope.em).all<SubscriptionRow>(
      `insert into webhook_subscriptions (id, organization_id, installation_id, created_by, url, events, touchpoint, description, status, secret_ciphertext, created_at, updated_at)
       values (?, ?, ?, ?, ?, array(select jsonb_array_elements_text(?::jsonb)), ?, ?, 'active', ?, ?, ?) returning *`,
      [
        id,
        scope.organizationId,
        scope.principal.kind === 'installation' ? scope.principal.installationId : null,
        scope.principal.kind === 'user' ? scope.principal.userId : null,
        input.url,
        JSON.stringify(events),
        input.filter?.touchpoint ?? null,
        input.description ?? null,
        this.secrets.encrypt(secret, id),
        now,
        now,
      ],
    );
    return { ...subscriptionView(row!, now), secret };
  }

  async list(scope: TenantScope, page: PageRequest & { status?: 'active' | 'disabled' | undefined }): Promise<Page<WebhookSubscriptionView>> {
    const after = decodeCursor(page.cursor);
    const { clause, params } = ownedBy(scope);
    const rows = await sqlRunner(scope.em).all<SubscriptionRow>(
      `select * from webhook_subscriptions where ${clause}
         and (?::uuid is null or id < ?::uuid) and (?::text is null or status = ?)
       order by id desc limit ?`,
      [...params, after ?? null, after ?? null, page.status ?? null, page.status ?? null, page.limit + 1],
    );
    const now = this.clock.now();
    const more = rows.length > page.limit;
    const data = rows.slice(0, page.limit).map((r) => subscriptionView(r, now));
    return { data, nextCursor: more ? encodeCursor(data[data.length - 1]!.id) : null };
  }

  async get(scope: TenantScope, id: string): Promise<WebhookSubscriptionView> {
    return subscriptionView(await findSubscription(scope, id), this.clock.now());
  }

  /**
   * A new URL is verified before it is used; so is re-activating a disabled subscription, which
   * also forgets its failure streak (the partner says the endpoint is fixed).
   */
  async update(scope: TenantScope, id: string, patch: SubscriptionPatch): Promise<WebhookSubscriptionView> {
    const current = await findSubscription(scope, id);
    const events = patch.events ? this.checkEvents(scope, patch.events) : current.events;
    const url = patch.url ?? current.url;
    const reactivating = patch.status === 'active' && current.status === 'disabled';
    if (patch.url !== undefined && patch.url !== current.url) await this.verify(url);
    else if (reactivating) await this.verify(url);
    const now = this.clock.now();
    const status = patch.status ?? current.status;
    const [row] = await sqlRunner(scope.em).all<SubscriptionRow>(
      `update webhook_subscriptions set url = ?, events = array(select jsonb_array_elements_text(?::jsonb)), touchpoint = ?, description = ?, status = ?,
         disabled_reason = case when ? = 'disabled' then coalesce(case when status = 'disabled' then disabled_reason end, 'disabled by request') end,
         disabled_at = case when ? = 'disabled' then coalesce(case when status = 'disabled' then disabled_at end, ?::timestamptz) end,
         failing_since = case when ? then null else failing_since end,
         updated_at = ?
       where organization_id = ? and id = ? returning *`,
      [
        url,
        JSON.stringify(events),
        patch.filter !== undefined ? (patch.filter.touchpoint ?? null) : current.touchpoint,
        patch.description !== undefined ? patch.description : current.description,
        status,
        status,
        status,
        now,
        reactivating,
        now,
        scope.organizationId,
        current.id,
      ],
    );
    if (!row) throw new NotFoundError('webhook subscription');
    return subscriptionView(row, now);
  }

  async remove(scope: TenantScope, id: string): Promise<void> {
    const current = await findSubscription(scope, id);
    await sqlRunner(scope.em).run('delete from webhook_subscriptions where organization_id = ? and id = ?', [scope.organizationId, current.id]);
  }

  /** The new secret signs at once; the previous one keeps signing beside it for 24 hours. */
  async rotateSecret(scope: TenantScope, id: string): Promise<WebhookSubscriptionView & { secret: string }> {
    const current = await findSubscription(scope, id);
    const secret = newSigningSecret();
    const now = this.clock.now();
    const [row] = await sqlRunner(scope.em).all<SubscriptionRow>(
      `update webhook_subscriptions set previous_secret_ciphertext = secret_ciphertext, previous_secret_expires_at = ?,
         secret_ciphertext = ?, updated_at = ?
       where organization_id = ? and id = ? returning *`,
      [new Date(now.getTime() + PREVIOUS_SECRET_GRACE_MS), this.secrets.encrypt(secret, current.id), now, scope.organizationId, current.id],
    );
    if (!row) throw new NotFoundError('webhook subscription');
    return { ...subscriptionView(row, now), secret };
  }

  private checkEvents(scope: TenantScope, events: string[]): string[] {
    const problems = events.flatMap((e, i) =>
      isValidEventFilter(e) ? [] : [{ path: `events.${i}`, message: `Unknown event name or prefix ${JSON.stringify(e)}. Known events: ${EVENT_TYPES.join(', ')}.` }],
    );
    if (problems.length) throw new ValidationError(problems, 'Subscribe to event names or prefixes of them, at a dot.');
    const resources = new Set(EVENT_TYPES.filter((t) => events.some((e) => eventMatches(e, t))).map((t) => t.split('.')[0]!));
    const missing = [...resources].map((r) => SCOPES_OF_RESOURCE[r]!).filter((any) => !any.some((s) => scope.principal.scopes.includes(s)));
    if (missing.length) {
      throw new ForbiddenError(`These events need one of the scopes ${missing.map((any) => any.join(' or ')).join(', and ')}, which this token lacks.`);
    }
    return [...new Set(events)].sort();
  }

  /**
   * The endpoint proves it wants our events: `GET url?challenge=C` must answer 2xx with body C.
   * The URL's target is checked first, so a refused address is never contacted.
   */
  private async verify(url: string): Promise<void> {
    await resolveWebhookTarget(url, this.policy);
    const challenge = randomBytes(16).toString('hex');
    const target = new URL(url);
    target.searchParams.set('challenge', challenge);
    const answer = await this.http.get(target.toString());
    if (answer.error) throw new WebhookVerificationFailedError(`The verification challenge could not be delivered: ${answer.error}.`);
    if (answer.status === null || answer.status < 200 || answer.status > 299) {
      throw new WebhookVerificationFailedError(`The endpoint answered the verification challenge with HTTP ${answer.status}; it must answer 200 with the challenge as its body.`);
    }
    if (answer.body.trim() !== challenge) {
      throw new WebhookVerificationFailedError('The endpoint answered the verification challenge without echoing it: its body must be exactly the value of the `challenge` query parameter.');
    }
  }
}

/** Partners own their installation's subscriptions; admins see the organization's. */
function ownedBy(scope: TenantScope): { clause: string; params: unknown[] } {
  if (scope.principal.kind === 'installation') {
    return { clause: 'organization_id = ? and installation_id = ?', params: [scope.organizationId, scope.principal.installationId] };
  }
  return { clause: 'organization_id = ?', params: [scope.organizationId] };
}

export async function findSubscription(scope: TenantScope, id: string, sql: SqlRunner = sqlRunner(scope.em)): Promise<SubscriptionRow> {
  if (!isId(id)) throw new NotFoundError('webhook subscription');
  const { clause, params } = ownedBy(scope);
  const [row] = await sql.all<SubscriptionRow>(`select * from webhook_subscriptions where ${clause} and id = ?`, [...params, id]);
  if (!row) throw new NotFoundError('webhook subscription');
  return row;
}

