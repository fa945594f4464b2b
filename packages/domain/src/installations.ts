import { ConflictError, NotFoundError, ValidationError, isId, type Clock } from '@parley/core';
import { Installation } from '@parley/db';
import type { Scope } from './access';
import type { AppService } from './apps';
import { keysetWhere, type Page, type PageRequest, toPage } from './pagination';
import type { TenantScope } from './scope';
import type { TokenPair, TokenService } from './tokens';
import { sqlRunner } from './sql';
import { uniqueOr } from './unique';

export interface InstallationView {
  id: string;
  appId: string;
  scopes: string[];
  status: 'active' | 'uninstalled';
  createdAt: string;
  uninstalledAt: string | null;
}

function installationView(i: Installation): InstallationView {
  return {
    id: i.id,
    appId: i.app,
    scopes: i.scopes,
    status: i.status,
    createdAt: i.createdAt.toISOString(),
    uninstalledAt: i.uninstalledAt?.toISOString() ?? null,
  };
}

export class InstallationService {
  constructor(
    private readonly apps: AppService,
    private readonly tokens: TokenService,
    private readonly clock: Clock,
  ) {}

  /** Hiring an app: the granted scopes must be a subset of what the app asks for. */
  async install(scope: TenantScope, input: { appId: string; scopes: Scope[] }): Promise<InstallationView> {
    return scope.em.fork().transactional(async (tx) => {
      const app = await this.apps.findVisible(scope, input.appId, tx);
      const problems = input.scopes
        .map((s, i) => ({ s, i }))
        .filter(({ s }) => !app.scopes.includes(s))
        .map(({ s, i }) => ({ path: `scopes.${i}`, message: `The app does not request the scope ${s}.` }));
      if (problems.length) throw new ValidationError(problems, 'Scopes must be a subset of the app’s scopes.');
      const installation = new Installation(
        scope.organizationId,
        app.id,
        [...new Set(input.scopes)].sort(),
        scope.principal.kind === 'user' ? scope.principal.userId : null,
      );
      tx.persist(installation);
      await uniqueOr(
        () => tx.flush(),
        'installations_active_unique',
        () => new ConflictError('already_installed', 'This app is already installed in the organization.'),
      );
      return installationView(installation);
    });
  }

  private async find(scope: TenantScope, id: string, em = scope.em): Promise<Installation> {
    const installation = isId(id) ? await em.findOne(Installation, { id }) : null;
    if (!installation) throw new NotFoundError('installation');
    return installation;
  }

  async get(scope: TenantScope, id: string): Promise<InstallationView> {
    return installationView(await this.find(scope, id));
  }

  async list(scope: TenantScope, page: PageRequest & { status?: 'active' | 'uninstalled' | undefined }): Promise<Page<InstallationView>> {
    const rows = await scope.em.find(
      Installation,
      { ...keysetWhere(page.cursor), ...(page.status ? { status: page.status } : {}) },
      { orderBy: { id: 'desc' }, limit: page.limit + 1 },
    );
    return toPage(rows, page.limit, installationView);
  }

  /** Uninstalling revokes every token of the installation in the same transaction. */
  async uninstall(scope: TenantScope, id: string): Promise<void> {
    await scope.em.fork().transactional(async (tx) => {
      const installation = await this.find(scope, id, tx);
      if (installation.status === 'uninstalled') return;
      installation.status = 'uninstalled';
      installation.uninstalledAt = this.clock.now();
      await this.tokens.revokeSubject(tx, 'installation', installation.id, 'uninstalled');
      // A partner let go receives nothing more: its subscriptions and their pending deliveries go.
      await sqlRunner(tx).run('delete from webhook_subscriptions where organization_id = ? and installation_id = ?', [installation.organization, installation.id]);
      await tx.flush();
    });
  }

  async issueTokens(scope: TenantScope, id: string): Promise<TokenPair> {
    return scope.em.fork().transactional(async (tx) => {
      const installation = await this.find(scope, id, tx);
      if (installation.status !== 'active') throw new NotFoundError('installation');
      return this.tokens.issue(tx, {
        kind: 'installation',
        organizationId: installation.organization,
        installationId: installation.id,
        scopes: installation.scopes as Scope[],
      });
    });
  }
}
