/**
 * Who may do what. Partner tokens carry scopes granted at install; users get theirs from their
 * role. Admins also hold management permissions that no partner token can be granted.
 */
export const SCOPES = [
  'conversations:read',
  'conversations:write',
  'messages:write',
  'templates:read',
  'broadcasts:read',
  'broadcasts:write',
  'webhooks:read',
  'webhooks:write',
  'channels:read',
] as const;
export type Scope = (typeof SCOPES)[number];

export const MANAGEMENT_PERMISSIONS = ['users:manage', 'apps:manage', 'installations:manage', 'channels:manage', 'routing:manage'] as const;
export type Permission = Scope | (typeof MANAGEMENT_PERMISSIONS)[number];

const ROLE_SCOPES: Record<'admin' | 'agent', readonly Scope[]> = {
  admin: SCOPES,
  agent: ['conversations:read', 'conversations:write', 'messages:write'],
};

export type Principal =
  | { kind: 'operator' }
  | {
      kind: 'user';
      organizationId: string;
      userId: string;
      role: 'admin' | 'agent';
      scopes: readonly Scope[];
      familyId: string;
    }
  | {
      kind: 'installation';
      organizationId: string;
      installationId: string;
      appId: string;
      scopes: readonly Scope[];
      familyId: string;
    };

export type TenantPrincipal = Exclude<Principal, { kind: 'operator' }>;

export function scopesForRole(role: 'admin' | 'agent'): readonly Scope[] {
  return ROLE_SCOPES[role];
}

export function hasPermission(principal: Principal, permission: Permission): boolean {
  if (principal.kind === 'operator') return false;
  if ((MANAGEMENT_PERMISSIONS as readonly string[]).includes(permission)) {
    return principal.kind === 'user' && principal.role === 'admin';
  }
  return principal.scopes.includes(permission as Scope);
}

export function actorId(principal: Principal): string {
  switch (principal.kind) {
    case 'operator':
      return 'operator';
    case 'user':
      return `user:${principal.userId}`;
    case 'installation':
      return `installation:${principal.installationId}`;
  }
}
