import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '@parley/config';
import type { Clock } from '@parley/core';
import { AppService, InstallationService, OrganizationService, TokenService, UserService } from '@parley/domain';
import { IdempotencyService } from './http/idempotency';

export interface Services {
  tokens: TokenService;
  organizations: OrganizationService;
  users: UserService;
  apps: AppService;
  installations: InstallationService;
  idempotency: IdempotencyService;
}

export function createServices(deps: { config: Config; orm: MikroORM; clock: Clock }): Services {
  const tokens = new TokenService(deps.config, deps.clock);
  const apps = new AppService();
  return {
    tokens,
    organizations: new OrganizationService(),
    users: new UserService(tokens),
    apps,
    installations: new InstallationService(apps, tokens, deps.clock),
    idempotency: new IdempotencyService(deps.orm, deps.clock),
  };
}
