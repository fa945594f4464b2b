import type { EntityManager } from '@mikro-orm/postgresql';
import { ForbiddenError, NotFoundError, isId } from '@parley/core';
import { App, Organization, UNSCOPED } from '@parley/db';
import type { Scope } from './access';
import { normalizeTags } from './organizations';
import { keysetWhere, type Page, type PageRequest, toPage } from './pagination';
import type { TenantScope } from './scope';
import { resolveWebhookTarget, type TargetPolicy, WebhookUrlUnresolvableError } from './webhooks/target';

export interface AppView {
  id: string;
  name: string;
  description: string;
  tags: string[];
  scopes: string[];
  publisherOrganizationId: string;
  /** Only the publishing organization sees where its app receives events. */
  webhookUrl?: string | null;
  createdAt: string;
}

function appView(app: App, viewerOrganizationId: string): AppView {
  const owned = app.organization === viewerOrganizationId;
  return {
    id: app.id,
    name: app.name,
    description: app.description,
    tags: app.tags,
    scopes: app.scopes,
    publisherOrganizationId: app.organization,
    ...(owned ? { webhookUrl: app.webhookUrl ?? null } : {}),
    createdAt: app.createdAt.toISOString(),
  };
}

/**
 * The bot store. An app belongs to the organization that registered it and is listed to every
 * organization that carries one of its tags. Visibility crosses tenants on purpose, so the
 * queries here state their organization condition themselves instead of using the tenant filter.
 */
export class AppService {
  constructor(private readonly webhookPolicy: TargetPolicy = { allowInsecure: false }) {}

  async register(
    scope: TenantScope,
    input: { name: string; description: string; tags: string[]; webhookUrl?: string | undefined; scopes: Scope[] },
  ): Promise<AppView> {
    if (scope.principal.kind !== 'user') throw new ForbiddenError('Only users register apps.');
    if (input.webhookUrl !== undefined) await this.checkWebhookUrl(input.webhookUrl);
    const app = new App(
      scope.organizationId,
      input.name.trim(),
      input.description,
      normalizeTags(input.tags),
      [...new Set(input.scopes)].sort(),
    );
    app.webhookUrl = input.webhookUrl ?? null;
    await scope.em.fork().persistAndFlush(app);
    return appView(app, scope.organizationId);
  }

  /**
   * The app's webhook URL passes the same target checks as a subscription's (400
   * webhook_url_forbidden). A name that does not resolve yet is kept: it is not a forbidden
   * target, and every delivery resolves and checks it again.
   */
  private async checkWebhookUrl(url: string): Promise<void> {
    try {
      await resolveWebhookTarget(url, this.webhookPolicy);
    } catch (err) {
      if (!(err instanceof WebhookUrlUnresolvableError)) throw err;
    }
  }

  private async visibility(scope: TenantScope): Promise<object> {
    const org = await scope.em.findOneOrFail(Organization, { id: scope.organizationId });
    return { $or: [{ organization: scope.organizationId }, ...(org.tags.length ? [{ tags: { $overlap: org.tags } }] : [])] };
  }

  async list(scope: TenantScope, page: PageRequest & { tag?: string | undefined; owned?: boolean | undefined }): Promise<Page<AppView>> {
    const where = {
      $and: [
        await this.visibility(scope),
        keysetWhere(page.cursor),
        page.tag ? { tags: { $contains: [page.tag.trim().toLowerCase()] } } : {},
        page.owned ? { organization: scope.organizationId } : {},
      ],
    };
    const rows = await scope.em.find(App, where, { ...UNSCOPED, orderBy: { id: 'desc' }, limit: page.limit + 1 });
    return toPage(rows, page.limit, (a) => appView(a, scope.organizationId));
  }

  /** An app the organization may see and hire; anything else is answered as nonexistent. */
  async findVisible(scope: TenantScope, id: string, em: EntityManager = scope.em): Promise<App> {
    const app = isId(id)
      ? await em.findOne(App, { $and: [{ id }, await this.visibility(scope)] }, UNSCOPED)
      : null;
    if (!app) throw new NotFoundError('app');
    return app;
  }

  async get(scope: TenantScope, id: string): Promise<AppView> {
    return appView(await this.findVisible(scope, id), scope.organizationId);
  }
}
