import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { organizationProperty } from './tenant';

/** A person the organization talks to, found by phone (E.164) or, failing that, by email. */
export class Contact {
  id: string = newId();
  phone?: string | null = null;
  email?: string | null = null;
  name?: string | null = null;
  /** WhatsApp's own id of the person (digits, as Meta sends `from`); replies are matched on it. */
  waId?: string | null = null;
  /** Meta's business-scoped user id, for people who write without showing a phone number. */
  userId?: string | null = null;
  parentUserId?: string | null = null;
  username?: string | null = null;
  fields: Record<string, string> = {};
  optedOut = false;
  optedOutAt?: Date | null = null;
  /** Meta answered 131050: the person refuses marketing templates from this business. */
  marketingOptedOut = false;
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
      name: 'contacts_wa_id_unique',
      expression: 'create unique index "contacts_wa_id_unique" on "contacts" ("organization_id", "wa_id") where "wa_id" is not null',
    },
    {
      name: 'contacts_user_id_unique',
      expression: 'create unique index "contacts_user_id_unique" on "contacts" ("organization_id", "user_id") where "user_id" is not null',
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
    userId: { type: 'text', fieldName: 'user_id', nullable: true },
    parentUserId: { type: 'text', fieldName: 'parent_user_id', nullable: true },
    username: { type: 'text', nullable: true },
    fields: { type: 'json', default: '{}' },
    optedOut: { type: 'boolean', fieldName: 'opted_out', default: false },
    optedOutAt: { type: 'timestamptz', fieldName: 'opted_out_at', nullable: true },
    marketingOptedOut: { type: 'boolean', fieldName: 'marketing_opted_out', default: false },
    lastInboundAt: { type: 'timestamptz', fieldName: 'last_inbound_at', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
  },
});

export type ConsentChange = 'opt_out' | 'opt_in' | 'marketing_opt_out' | 'marketing_opt_in';

/** The ledger of every consent change: when, what, and why (keyword, Meta error, API call). */
export class ConsentEvent {
  id: string = newId();
  createdAt: Date = new Date();

  constructor(
    public organization: string,
    public contact: string,
    public change: ConsentChange,
    public cause: string,
    public detail: string | null,
  ) {}
}

export const ConsentEventSchema = new EntitySchema<ConsentEvent>({
  class: ConsentEvent,
  tableName: 'consent_events',
  indexes: [{ properties: ['contact', 'id'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    contact: { kind: 'm:1', entity: () => Contact, mapToPk: true, fieldName: 'contact_id', deleteRule: 'cascade' },
    change: { type: 'text' },
    cause: { type: 'text' },
    detail: { type: 'text', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
  },
});
