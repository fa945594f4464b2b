import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { Channel } from './channel';
import { organizationProperty } from './tenant';

/** A message template as last synced from the channel's WABA; sends are validated against it. */
export class Template {
  id: string = newId();
  syncedAt: Date = new Date();

  constructor(
    public organization: string,
    public channel: string,
    public metaTemplateId: string,
    public name: string,
    public language: string,
    public status: string,
    public category: string,
    public parameterFormat: 'POSITIONAL' | 'NAMED',
    public components: unknown[],
  ) {}
}

export const TemplateSchema = new EntitySchema<Template>({
  class: Template,
  tableName: 'templates',
  uniques: [{ name: 'templates_channel_name_language_unique', properties: ['channel', 'name', 'language'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    channel: { kind: 'm:1', entity: () => Channel, mapToPk: true, fieldName: 'channel_id', deleteRule: 'cascade' },
    metaTemplateId: { type: 'text', fieldName: 'meta_template_id' },
    name: { type: 'text' },
    language: { type: 'text' },
    status: { type: 'text' },
    category: { type: 'text' },
    parameterFormat: { type: 'text', fieldName: 'parameter_format' },
    components: { type: 'json' },
    syncedAt: { type: 'timestamptz', fieldName: 'synced_at' },
  },
});
