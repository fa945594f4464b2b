import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';

/**
 * The first response to an `Idempotency-Key`, replayed for 24 hours. Scoped by the caller's
 * identity (organization and actor), so keys of different tenants never meet.
 */
export class IdempotencyRecord {
  id: string = newId();
  state: 'in_progress' | 'completed' = 'in_progress';
  responseStatus?: number | null = null;
  responseBody?: unknown = null;

  constructor(
    public scope: string,
    public key: string,
    public requestHash: string,
    public createdAt: Date,
    public expiresAt: Date,
  ) {}
}

export const IdempotencyRecordSchema = new EntitySchema<IdempotencyRecord>({
  class: IdempotencyRecord,
  tableName: 'idempotency_keys',
  uniques: [{ name: 'idempotency_keys_scope_key_unique', properties: ['scope', 'key'] }],
  indexes: [{ properties: ['expiresAt'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    scope: { type: 'text' },
    key: { type: 'text' },
    requestHash: { type: 'text', fieldName: 'request_hash' },
    state: { type: 'text' },
    responseStatus: { type: 'int', fieldName: 'response_status', nullable: true },
    responseBody: { type: 'json', fieldName: 'response_body', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    expiresAt: { type: 'timestamptz', fieldName: 'expires_at' },
  },
});
