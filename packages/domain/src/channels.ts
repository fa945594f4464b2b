import { randomInt } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type Clock, ConflictError, DomainError, isId, NotFoundError, type SecretBox, ValidationError } from '@parley/core';
import { Channel, Template, UNSCOPED } from '@parley/db';
import { GraphError, type GraphClient, type Template as MetaTemplate } from '@parley/graph';
import { type UploadKind, UPLOAD_TYPES, uploadTypeOf } from './media-upload';
import { keysetWhere, type Page, type PageRequest, toPage } from './pagination';
import type { TenantScope } from './scope';
import { afterCommit } from './transaction';
import { uniqueOr } from './unique';

export interface ChannelView {
  id: string;
  type: 'whatsapp';
  label: string;
  wabaId: string;
  phoneNumberId: string;
  phoneNumber: string;
  verifiedName: string;
  qualityRating: string | null;
  messagesPerSecond: number;
  status: 'active';
  createdAt: string;
}

export function channelView(c: Channel): ChannelView {
  return {
    id: c.id,
    type: 'whatsapp',
    label: c.label,
    wabaId: c.wabaId,
    phoneNumberId: c.phoneNumberId,
    phoneNumber: c.displayPhoneNumber,
    verifiedName: c.verifiedName,
    qualityRating: c.qualityRating ?? null,
    messagesPerSecond: c.messagesPerSecond,
    status: 'active',
    createdAt: c.createdAt.toISOString(),
  };
}

export type GraphPort = Pick<
  GraphClient,
  'exchangeCode' | 'getPhoneNumber' | 'subscribeApp' | 'registerNumber' | 'listAllTemplates' | 'getMedia' | 'downloadMedia' | 'uploadMedia'
>;

/** A file uploaded for a channel's messages: send it by `id` as `kind` (Meta keeps it 30 days). */
export interface UploadedMedia {
  id: string;
  kind: UploadKind;
  mimeType: string;
  size: number;
  filename: string | null;
}

/** The Graph calls of embedded signup, in order; a failure names the one that failed. */
export type SignupStep = 'token' | 'number' | 'subscription' | 'registration' | 'templates';

/** A Graph failure becomes 502 `graph_error`, carrying what Meta said (never the token). */
export function graphFailure(err: unknown, step?: SignupStep): never {
  if (err instanceof GraphError) {
    throw new DomainError(502, 'graph_error', 'Bad Gateway', `The WhatsApp Graph API refused: ${err.title ?? err.message}`, undefined, {
      ...(step ? { step } : {}),
      meta: {
        code: err.code,
        subcode: err.subcode ?? null,
        message: err.message,
        title: err.title ?? null,
        details: err.details ?? null,
        fbtraceId: err.fbtraceId ?? null,
      },
    });
  }
  throw err;
}

const channelConflict = () =>
  new ConflictError('channel_conflict', 'This WhatsApp phone number is already connected to an organization.');

export interface TemplateView {
  id: string;
  channelId: string;
  metaTemplateId: string;
  name: string;
  language: string;
  status: string;
  category: string;
  parameterFormat: 'POSITIONAL' | 'NAMED';
  components: unknown[];
  syncedAt: string;
}

export function templateView(t: Template): TemplateView {
  return {
    id: t.id,
    channelId: t.channel,
    metaTemplateId: t.metaTemplateId,
    name: t.name,
    language: t.language,
    status: t.status,
    category: t.category,
    parameterFormat: t.parameterFormat,
    components: t.components,
    syncedAt: t.syncedAt.toISOString(),
  };
}

function templateRow(organizationId: string, channelId: string, t: MetaTemplate): Template {
  return new Template(
    organizationId,
    channelId,
    t.id,
    t.name,
    t.language,
    t.status,
    t.category,
    t.parameter_format === 'NAMED' ? 'NAMED' : 'POSITIONAL',
    t.components ?? [],
  );
}

/** Looks up which channel (and so which organization) a Meta phone number id belongs to. */
export interface ChannelDirectory {
  remember(channel: Channel): void;
  forget(phoneNumberId: string): void;
}

export class ChannelService {
  constructor(
    private readonly graph: GraphPort,
    private readonly secrets: SecretBox,
    private readonly clock: Clock,
    private readonly directory?: ChannelDirectory,
  ) {}

  /**
   * Embedded signup. Every Graph step runs before anything is written, and the channel with its
   * templates is then written in one transaction: a failure anywhere leaves nothing behind.
   */
  async connect(
    scope: TenantScope,
    input: { code: string; wabaId: string; phoneNumberId: string; label: string; pin?: string | undefined },
  ): Promise<ChannelView> {
    const taken = await scope.em.count(Channel, { phoneNumberId: input.phoneNumberId, status: 'active' }, UNSCOPED);
    if (taken) throw channelConflict();

    let token: string;
    let phone: Awaited<ReturnType<GraphPort['getPhoneNumber']>>;
    let templates: MetaTemplate[];
    let step: SignupStep = 'token';
    try {
      token = (await this.graph.exchangeCode(input.code)).accessToken;
      step = 'number';
      phone = await this.graph.getPhoneNumber(token, input.phoneNumberId);
      step = 'subscription';
      await this.graph.subscribeApp(token, input.wabaId);
      step = 'registration';
      // Registration sets two-step verification; without a pin from the tenant we choose one.
      await this.graph.registerNumber(token, input.phoneNumberId, input.pin ?? String(randomInt(0, 1_000_000)).padStart(6, '0'));
      step = 'templates';
      templates = await this.graph.listAllTemplates(token, input.wabaId);
    } catch (err) {
      graphFailure(err, step);
    }

    const channel = await scope.em.fork().transactional(async (tx) => {
      const channel = new Channel(
        scope.organizationId,
        input.label.trim(),
        input.wabaId,
        input.phoneNumberId,
        phone.displayPhoneNumber,
        phone.verifiedName,
        '',
      );
      channel.businessTokenCiphertext = this.secrets.encrypt(token, channel.id);
      channel.qualityRating = phone.qualityRating ?? null;
      tx.persist(channel);
      await uniqueOr(() => tx.flush(), 'channels_phone_number_active_unique', channelConflict);
      for (const t of templates) tx.persist(templateRow(scope.organizationId, channel.id, t));
      await tx.flush();
      return channel;
    });
    // Only once committed: a cached route to a channel that was rolled back would store deliveries for nothing.
    await afterCommit(scope.em, async () => this.directory?.remember(channel));
    return channelView(channel);
  }

  async find(scope: TenantScope, id: string, em: EntityManager = scope.em): Promise<Channel> {
    const channel = isId(id) ? await em.findOne(Channel, { id, status: 'active' }) : null;
    if (!channel) throw new NotFoundError('channel');
    return channel;
  }

  /**
   * Uploads a file to the channel's number at Meta. The type and size are checked first, so a file
   * WhatsApp would refuse to deliver is refused here with the reason (415, 413) and never uploaded.
   */
  async uploadMedia(scope: TenantScope, channelId: string, file: { bytes: Buffer; contentType: string | undefined; filename?: string | undefined }): Promise<UploadedMedia> {
    const channel = await this.find(scope, channelId);
    const mimeType = uploadTypeOf(file.contentType);
    const rule = UPLOAD_TYPES[mimeType];
    if (!rule) {
      throw new DomainError(415, 'unsupported_media_type', 'Unsupported Media Type', `WhatsApp does not send files of type ${mimeType || '(none)'}.`, undefined, {
        supported: Object.keys(UPLOAD_TYPES),
      });
    }
    if (file.bytes.length === 0) throw new ValidationError([{ path: 'body', message: 'The file is empty.' }], 'The file is empty.');
    if (file.bytes.length > rule.maxBytes) {
      throw new DomainError(413, 'payload_too_large', 'Content Too Large', `A ${rule.kind} of type ${mimeType} may be at most ${rule.maxBytes} bytes.`);
    }
    const token = await this.businessToken(scope.em, channel.id);
    try {
      const { id } = await this.graph.uploadMedia(token, channel.phoneNumberId, { bytes: file.bytes, mimeType, filename: file.filename });
      return { id, kind: rule.kind, mimeType, size: file.bytes.length, filename: file.filename ?? null };
    } catch (err) {
      graphFailure(err);
    }
  }

  async get(scope: TenantScope, id: string): Promise<ChannelView> {
    return channelView(await this.find(scope, id));
  }

  async list(scope: TenantScope, page: PageRequest): Promise<Page<ChannelView>> {
    const rows = await scope.em.find(
      Channel,
      { ...keysetWhere(page.cursor), status: 'active' },
      { orderBy: { id: 'desc' }, limit: page.limit + 1 },
    );
    return toPage(rows, page.limit, channelView);
  }

  async update(scope: TenantScope, id: string, patch: { label?: string | undefined; messagesPerSecond?: number | undefined }): Promise<ChannelView> {
    return scope.em.fork().transactional(async (tx) => {
      const channel = await this.find(scope, id, tx);
      if (patch.label !== undefined) channel.label = patch.label.trim();
      if (patch.messagesPerSecond !== undefined) channel.messagesPerSecond = patch.messagesPerSecond;
      await tx.flush();
      return channelView(channel);
    });
  }

  /**
   * Disconnecting keeps the conversation history but drops the business token, and frees the
   * number so it can be connected again (here or elsewhere).
   */
  async remove(scope: TenantScope, id: string): Promise<void> {
    const phoneNumberId = await scope.em.fork().transactional(async (tx) => {
      const channel = await this.find(scope, id, tx);
      channel.status = 'deleted';
      channel.deletedAt = this.clock.now();
      channel.businessTokenCiphertext = this.secrets.encrypt('', channel.id);
      // Templates are Meta's, reachable only through this channel's token: kept, they would stay
      // listed (and doubled on a reconnect) though nothing can send them.
      await tx.nativeDelete(Template, { channel: channel.id });
      await tx.flush();
      return channel.phoneNumberId;
    });
    this.directory?.forget(phoneNumberId);
  }

  /** The channel's business token, decrypted for one Graph call. */
  async businessToken(em: EntityManager, channelId: string): Promise<string> {
    const channel = await em.findOneOrFail(Channel, { id: channelId }, { ...UNSCOPED, populate: ['businessTokenCiphertext'] });
    return this.secrets.decrypt(channel.businessTokenCiphertext, channel.id);
  }

  async listTemplates(
    scope: TenantScope,
    page: PageRequest & { channelId?: string | undefined; name?: string | undefined; status?: string | undefined },
  ): Promise<Page<TemplateView>> {
    if (page.channelId !== undefined) await this.find(scope, page.channelId);
    const rows = await scope.em.find(
      Template,
      {
        ...keysetWhere(page.cursor),
        ...(page.channelId ? { channel: page.channelId } : {}),
        ...(page.name ? { name: page.name } : {}),
        ...(page.status ? { status: page.status.toUpperCase() } : {}),
      },
      { orderBy: { id: 'desc' }, limit: page.limit + 1 },
    );
    return toPage(rows, page.limit, templateView);
  }

  /** Re-reads every template page and makes the stored set equal to Meta's. */
  async syncTemplates(scope: TenantScope, channelId?: string): Promise<{ channels: number; templates: number }> {
    const channels = channelId ? [await this.find(scope, channelId)] : await scope.em.find(Channel, { status: 'active' });
    let count = 0;
    for (const channel of channels) count += await this.syncChannelTemplates(scope.em, channel);
    return { channels: channels.length, templates: count };
  }

  /**
   * One channel's sync; also run on a schedule by the worker, where `em` is scoped to the
   * channel's organization. Answers how many templates Meta has.
   */
  async syncChannelTemplates(em: EntityManager, channel: Pick<Channel, 'id' | 'organization' | 'wabaId'>): Promise<number> {
    const token = await this.businessToken(em, channel.id);
    let templates: MetaTemplate[];
    try {
      templates = await this.graph.listAllTemplates(token, channel.wabaId);
    } catch (err) {
      graphFailure(err);
    }
    await em.fork().transactional(async (tx) => {
      // Syncs of one channel take turns, so each reads the set the last one left instead of
      // racing it to insert the same template (a unique violation); a channel disconnected
      // meanwhile gets no templates back.
      const locked = await tx.findOne(Channel, { id: channel.id, status: 'active' }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!locked) return;
      const existing = new Map((await tx.find(Template, { channel: channel.id })).map((t) => [`${t.name}\u0000${t.language}`, t]));
      const now = this.clock.now();
      for (const t of templates) {
        const key = `${t.name}\u0000${t.language}`;
        const row = existing.get(key);
        if (row) {
          existing.delete(key);
          row.metaTemplateId = t.id;
          row.status = t.status;
          row.category = t.category;
          row.parameterFormat = t.parameter_format === 'NAMED' ? 'NAMED' : 'POSITIONAL';
          row.components = t.components ?? [];
          row.syncedAt = now;
        } else {
          tx.persist(templateRow(channel.organization, channel.id, t));
        }
      }
      for (const gone of existing.values()) tx.remove(gone);
      await tx.flush();
    });
    return templates.length;
  }
}
