import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';

export interface OrganizationSettings {
  optOut?: {
    keywords?: string[];
    optInKeywords?: string[];
    confirmationText?: string | null;
    optInConfirmationText?: string | null;
  };
  /** IANA zone that routing business hours are read in (default UTC). */
  timeZone?: string;
}

export class Organization {
  id: string = newId();
  name: string;
  tags: string[];
  /** Tenant preferences (opt-out keywords and replies, ...); absent keys take documented defaults. */
  settings: OrganizationSettings = {};
  createdAt: Date = new Date();
  updatedAt: Date = new Date();

  constructor(name: string, tags: string[]) {
    this.name = name;
    this.tags = tags;
  }
}

export const OrganizationSchema = new EntitySchema<Organization>({
  class: Organization,
  tableName: 'organizations',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    tags: { type: 'text[]', default: '{}' },
    settings: { type: 'json', default: '{}' },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
  },
});
