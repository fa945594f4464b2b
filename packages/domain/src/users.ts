import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError, isId, NotFoundError, type PasswordHasher, UnauthorizedError } from '@parley/core';
import { UNSCOPED, User, type UserRole } from '@parley/db';
import { keysetWhere, type Page, type PageRequest, toPage } from './pagination';
import type { TenantScope } from './scope';
import type { TokenPair, TokenService } from './tokens';
import { uniqueOr } from './unique';

export const MIN_PASSWORD_LENGTH = 12;

export interface UserView {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  /** When the user was deactivated; null while the user can sign in. */
  disabledAt: string | null;
  createdAt: string;
}

export function userView(user: User): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    disabledAt: user.disabledAt ? user.disabledAt.toISOString() : null,
    createdAt: user.createdAt.toISOString(),
  };
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A friendly early answer; the unique index still decides under concurrency (see isUniqueViolation). */
export async function assertEmailFree(em: EntityManager, email: string): Promise<void> {
  if (await em.count(User, { email }, UNSCOPED)) {
    throw emailTaken();
  }
}

export const lastAdmin = () =>
  new ConflictError('last_admin', 'This would leave the organization without an active admin. Make another user admin first.');

export const emailTaken = () => new ConflictError('email_taken', 'A user with this email already exists.');

export class UserService {
  constructor(
    private readonly tokens: TokenService,
    private readonly passwords: PasswordHasher,
  ) {}

  async create(
    scope: TenantScope,
    input: { email: string; password: string; name: string; role: UserRole },
  ): Promise<UserView> {
    const passwordHash = await this.passwords.hash(input.password);
    return scope.em.fork().transactional(async (tx) => {
      const email = normalizeEmail(input.email);
      await assertEmailFree(tx, email);
      const user = new User(scope.organizationId, email, input.name.trim(), input.role, passwordHash);
      tx.persist(user);
      await uniqueOr(() => tx.flush(), 'users_email_unique', emailTaken);
      return userView(user);
    });
  }

  async list(scope: TenantScope, page: PageRequest & { role?: UserRole | undefined }): Promise<Page<UserView>> {
    const rows = await scope.em.find(
      User,
      { ...keysetWhere(page.cursor), ...(page.role ? { role: page.role } : {}) },
      { orderBy: { id: 'desc' }, limit: page.limit + 1 },
    );
    return toPage(rows, page.limit, userView);
  }

  /**
   * Changes a user's role, or deactivates (`disabled: true`) or reactivates one. A deactivated
   * user's tokens are revoked at once and sign-in is refused. An organization always keeps an
   * active admin: the change is refused with 409 `last_admin` otherwise. The organization's row is
   * locked first, so two admins demoting each other at the same moment cannot both pass the check.
   */
  async update(scope: TenantScope, id: string, change: { role?: UserRole | undefined; disabled?: boolean | undefined }): Promise<UserView> {
    return scope.em.fork().transactional(async (tx) => {
      await tx.getConnection().execute('select id from organizations where id = ? for update', [scope.organizationId], 'all', tx.getTransactionContext());
      const user = isId(id) ? await tx.findOne(User, { id, organization: scope.organizationId }) : null;
      if (!user) throw new NotFoundError('user');
      const wasActiveAdmin = user.role === 'admin' && !user.disabledAt;
      if (change.role) user.role = change.role;
      if (change.disabled === true && !user.disabledAt) user.disabledAt = new Date();
      if (change.disabled === false) user.disabledAt = null;
      if (wasActiveAdmin && (user.role !== 'admin' || user.disabledAt)) {
        const others = await tx.count(User, { organization: scope.organizationId, role: 'admin', disabledAt: null, id: { $ne: user.id } });
        if (others === 0) throw lastAdmin();
      }
      if (user.disabledAt) await this.tokens.revokeSubject(tx, 'user', user.id, 'user_disabled');
      await tx.flush();
      return userView(user);
    });
  }

  /** Same answer and comparable timing for an unknown email and a wrong password. */
  async login(em: EntityManager, email: string, password: string): Promise<TokenPair> {
    const user = await em.findOne(
      User,
      { email: normalizeEmail(email), disabledAt: null },
      { ...UNSCOPED, populate: ['passwordHash'] },
    );
    const check = await this.passwords.verify(password, user?.passwordHash);
    if (!user || !check.ok) throw new UnauthorizedError('unauthorized', 'Email or password is wrong.');
    if (check.stale) await this.rehash(em, user, password);
    return this.tokens.issue(em.fork(), {
      kind: 'user',
      organizationId: user.organization,
      userId: user.id,
      role: user.role,
    });
  }

  /** Replaces a hash made at a weaker cost; skipped if the password changed meanwhile. */
  private async rehash(em: EntityManager, user: User, password: string): Promise<void> {
    const fresh = await this.passwords.hash(password);
    await em.fork().nativeUpdate(User, { id: user.id, passwordHash: user.passwordHash }, { passwordHash: fresh }, UNSCOPED);
  }
}
