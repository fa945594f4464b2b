import type { EntityManager } from '@mikro-orm/postgresql';
import { isId, NotFoundError, type PasswordHasher } from '@parley/core';
import { Organization, UNSCOPED, User } from '@parley/db';
import { uniqueOr } from './unique';
import { assertEmailFree, emailTaken, normalizeEmail } from './users';

export interface OrganizationView {
  id: string;
  name: string;
  tags: string[];
  createdAt: string;
}

export function organizationView(org: Organization): OrganizationView {
  return { id: org.id, name: org.name, tags: org.tags, createdAt: org.createdAt.toISOString() };
}

export function normalizeTags(tags: string[]): string[] {
  return [...new Set(tags.map((t) => t.trim().toLowerCase()).filter(Boolean))].sort();
}

/** Operator-side: organizations live above any tenant, so these run unscoped by design. */
export class OrganizationService {
  constructor(private readonly passwords: PasswordHasher) {}

  async create(
    em: EntityManager,
    input: { name: string; tags?: string[] | undefined; admin: { email: string; password: string; name?: string | undefined } },
  ): Promise<OrganizationView> {
    const passwordHash = await this.passwords.hash(input.admin.password);
    return em.fork().transactional(async (tx) => {
      const email = normalizeEmail(input.admin.email);
      await assertEmailFree(tx, email);
      const org = new Organization(input.name.trim(), normalizeTags(input.tags ?? []));
      tx.persist(org);
      tx.persist(new User(org.id, email, input.admin.name?.trim() || email, 'admin', passwordHash));
      await uniqueOr(() => tx.flush(), 'users_email_unique', emailTaken);
      return organizationView(org);
    });
  }

  async get(em: EntityManager, id: string): Promise<OrganizationView> {
    const org = isId(id) ? await em.findOne(Organization, { id }, UNSCOPED) : null;
    if (!org) throw new NotFoundError('organization');
    return organizationView(org);
  }

  async updateTags(em: EntityManager, id: string, tags: string[]): Promise<OrganizationView> {
    return em.fork().transactional(async (tx) => {
      const org = isId(id) ? await tx.findOne(Organization, { id }, UNSCOPED) : null;
      if (!org) throw new NotFoundError('organization');
      org.tags = normalizeTags(tags);
      await tx.flush();
      return organizationView(org);
    });
  }
}
