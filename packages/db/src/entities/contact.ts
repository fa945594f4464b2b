import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { organizationProperty } from './tenant';

/** A person the organization talks to, found by phone (E.164) or, failing that, by email. */
export class Contact {
  id: string = newId();
  phone?: string | null = null;
  email?: string | null = null;
  name?: string | null = null;
  waId?: string | null = null;
  fields: Record<string, string> = {};
  optedOut = false;
  optedOutAt?: Date | null = null;
  lastInboundAt?: Date | null = null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();

  constructor(public organization: string) {}
}

export const ContactSchema = new EntitySchema<Contact>({
  class: Contact,
  tableName: 'contacts',
  indexes: [
    {
      name: 'contacts_phone_unique',
      expression: 'create unique index "contacts_phone_unique" on "contacts" ("organization_id", "phone") where "phone" is not null',
    },
    {
      name: 'contacts_email_unique',
      expression: 'create unique index "contacts_email_unique" on "contacts" ("organization_id", "email") where "email" is not null',
    },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    phone: { type: 'text', nullable: true },
    email: { type: 'text', nullable: true },
    name: { type: 'text', nullable: true },
    waId: { type: 'text', fieldName: 'wa_id', nullable: true },
    fields: { type: 'json', default: '{}' },
    optedOut: { type: 'boolean', fieldName: 'opted_out', default: false },
    optedOutAt: { type: 'timestamptz', fieldName: 'opted_out_at', nullable: true },
    lastInboundAt: { type: 'timestamptz', fieldName: 'last_inbound_at', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
  },
});
