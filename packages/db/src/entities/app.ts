import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { organizationProperty } from './tenant';

/** An integration registered in the bot store by a partner organization (its owner). */
export class App {
  id: string = newId();
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
  webhookUrl?: string | null = null;

  constructor(
    public organization: string,
    public name: string,
    public description: string,
    public tags: string[],
    public scopes: string[],
  ) {}
}

export const AppSchema = new EntitySchema<App>({
  class: App,
  tableName: 'apps',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    name: { type: 'text' },
    description: { type: 'text' },
    tags: { type: 'text[]' },
    scopes: { type: 'text[]' },
    webhookUrl: { type: 'text', fieldName: 'webhook_url', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
  },
});
