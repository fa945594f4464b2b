import { AppSchema } from './app';
import { BroadcastRecipientSchema, BroadcastSchema, ChannelSendBudgetSchema, ChannelSendLogSchema } from './broadcast';
import { ChannelNoticeSchema, ChannelSchema } from './channel';
import { ConsentEventSchema, ContactSchema } from './contact';
import { ConversationSchema } from './conversation';
import { DomainEventSchema } from './domain-event';
import { IdempotencyRecordSchema } from './idempotency';
import { InstallationSchema } from './installation';
import { MessageSchema } from './message';
import { OrganizationSchema } from './organization';
import { TemplateSchema } from './template';
import { SignInAttemptSchema } from './sign-in-attempt';
import { RefreshTokenSchema, TokenFamilySchema } from './token';
import { UserSchema } from './user';
import { InboundFailureSchema, MessageStatusEventSchema, MetaWebhookDeliverySchema } from './webhook-inbox';

export * from './app';
export * from './broadcast';
export * from './channel';
export * from './contact';
export * from './conversation';
export * from './domain-event';
export * from './idempotency';
export * from './installation';
export * from './message';
export * from './organization';
export * from './sign-in-attempt';
export * from './template';
export * from './token';
export * from './user';
export * from './webhook-inbox';

export const entities = [
  OrganizationSchema,
  UserSchema,
  AppSchema,
  InstallationSchema,
  TokenFamilySchema,
  RefreshTokenSchema,
  IdempotencyRecordSchema,
  SignInAttemptSchema,
  ChannelSchema,
  TemplateSchema,
  ContactSchema,
  ConversationSchema,
  MessageSchema,
  DomainEventSchema,
  MetaWebhookDeliverySchema,
  MessageStatusEventSchema,
  ConsentEventSchema,
  BroadcastSchema,
  BroadcastRecipientSchema,
  ChannelSendBudgetSchema,
  ChannelSendLogSchema,
  ChannelNoticeSchema,
  InboundFailureSchema,
];
