import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';

export class Organization {
  id: string = newId();
  name: string;
  tags: string[];
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
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
  },
});
