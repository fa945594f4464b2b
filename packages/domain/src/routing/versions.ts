import { newId } from '@parley/core';
import type { SqlRunner } from '../sql';
import { emptyRoutingDocument, type RoutingDocument, routingDocumentSchema } from './config';

/**
 * Storage of routing documents: the organization's draft, its numbered versions (immutable), and
 * scheduled applies. The live version at an instant is the newest version; a scheduled apply
 * becomes a version when its time comes, either through the worker's poller or, if that is late,
 * through the next `loadLiveRouting` at or after its time, so it takes effect at its time either way.
 */

export type VersionSource = 'apply' | 'scheduled' | 'restore';

export interface VersionRow {
  id: string;
  organization_id: string;
  number: number;
  document: unknown;
  source: VersionSource;
  restored_from: number | null;
  created_by: string | null;
  created_at: Date;
}

export interface LiveRouting {
  version: Omit<VersionRow, 'document'> | null;
  document: RoutingDocument;
}

export interface ScheduleRow {
  id: string;
  organization_id: string;
  at: Date;
  status: 'pending' | 'applied';
  version_id: string | null;
  created_by: string | null;
  created_at: Date;
}

/** Stored documents were valid when written; parsing again fills defaults added since. */
export function parseStoredDocument(value: unknown): RoutingDocument {
  return routingDocumentSchema.parse(typeof value === 'string' ? JSON.parse(value) : value);
}

/** The draft, created empty on first use, locked for the rest of the transaction. */
export async function lockDraft(sql: SqlRunner, organizationId: string, now: Date): Promise<{ document: RoutingDocument; updatedAt: Date }> {
  await sql.run(`insert into routing_drafts (organization_id, document, updated_at) values (?, ?::jsonb, ?) on conflict (organization_id) do nothing`, [
    organizationId,
    JSON.stringify(emptyRoutingDocument()),
    now,
  ]);
  const [row] = await sql.all<{ document: unknown; updated_at: Date }>('select document, updated_at from routing_drafts where organization_id = ? for update', [organizationId]);
  return { document: parseStoredDocument(row!.document), updatedAt: new Date(row!.updated_at) };
}

export async function readDraft(sql: SqlRunner, organizationId: string): Promise<{ document: RoutingDocument; updatedAt: Date | null }> {
  const [row] = await sql.all<{ document: unknown; updated_at: Date }>('select document, updated_at from routing_drafts where organization_id = ?', [organizationId]);
  return row ? { document: parseStoredDocument(row.document), updatedAt: new Date(row.updated_at) } : { document: emptyRoutingDocument(), updatedAt: null };
}

export async function writeDraft(sql: SqlRunner, organizationId: string, document: RoutingDocument, now: Date): Promise<void> {
  await sql.run('update routing_drafts set document = ?::jsonb, updated_at = ? where organization_id = ?', [JSON.stringify(document), now, organizationId]);
}

/** Versions of one organization are numbered in order; this lock makes the next number safe to take. */
async function lockVersions(sql: SqlRunner, organizationId: string): Promise<void> {
  await sql.all(`select pg_advisory_xact_lock(hashtextextended('routing_versions:' || ?, 0))`, [organizationId]);
}

export async function createVersion(
  sql: SqlRunner,
  organizationId: string,
  document: RoutingDocument,
  input: { source: VersionSource; createdBy: string | null; restoredFrom?: number | undefined },
  now: Date,
): Promise<VersionRow> {
  await lockVersions(sql, organizationId);
  const [{ next }] = (await sql.all<{ next: number }>('select coalesce(max(number), 0) + 1 as next from routing_versions where organization_id = ?', [organizationId])) as [
    { next: number },
  ];
  const row: VersionRow = {
    id: newId(),
    organization_id: organizationId,
    number: Number(next),
    document,
    source: input.source,
    restored_from: input.restoredFrom ?? null,
    created_by: input.createdBy,
    created_at: now,
  };
  await sql.run(
    `insert into routing_versions (id, organization_id, number, document, source, restored_from, created_by, created_at) values (?, ?, ?, ?::jsonb, ?, ?, ?, ?)`,
    [row.id, organizationId, row.number, JSON.stringify(document), row.source, row.restored_from, row.created_by, now],
  );
  return row;
}

export async function scheduleApply(sql: SqlRunner, organizationId: string, document: RoutingDocument, at: Date, createdBy: string | null, now: Date): Promise<ScheduleRow> {
  const row: ScheduleRow = { id: newId(), organization_id: organizationId, at, status: 'pending', version_id: null, created_by: createdBy, created_at: now };
  await sql.run(`insert into routing_schedules (id, organization_id, document, at, status, created_by, created_at) values (?, ?, ?::jsonb, ?, 'pending', ?, ?)`, [
    row.id,
    organizationId,
    JSON.stringify(document),
    at,
    createdBy,
    now,
  ]);
  return row;
}

/**
 * Turns scheduled applies whose time has come into versions, oldest first (of one organization,
 * or of all when none is given). Rows another transaction holds are left to it.
 */
export async function promoteDueSchedules(sql: SqlRunner, now: Date, organizationId?: string): Promise<number> {
  const due = await sql.all<ScheduleRow & { document: unknown }>(
    `select * from routing_schedules where status = 'pending' and at <= ? ${organizationId ? 'and organization_id = ?' : ''}
     order by at, id limit 100 for update skip locked`,
    organizationId ? [now, organizationId] : [now],
  );
  for (const s of due) {
    const version = await createVersion(sql, s.organization_id, parseStoredDocument(s.document), { source: 'scheduled', createdBy: s.created_by }, new Date(s.at));
    await sql.run(`update routing_schedules set status = 'applied', version_id = ? where id = ?`, [version.id, s.id]);
  }
  return due.length;
}

export async function latestVersion(sql: SqlRunner, organizationId: string): Promise<VersionRow | undefined> {
  const [row] = await sql.all<VersionRow>('select * from routing_versions where organization_id = ? order by number desc limit 1', [organizationId]);
  return row;
}

/**
 * The routing in force at `now`: what the runtime evaluates for an inbound message. Applies a
 * due scheduled apply first, so the answer never lags behind the schedule.
 */
export async function loadLiveRouting(sql: SqlRunner, organizationId: string, now: Date): Promise<LiveRouting> {
  await promoteDueSchedules(sql, now, organizationId);
  const row = await latestVersion(sql, organizationId);
  if (!row) return { version: null, document: emptyRoutingDocument() };
  const { document, ...version } = row;
  return { version, document: parseStoredDocument(document) };
}

export type ChangeKind = 'queue' | 'time_group' | 'time_condition' | 'decision_tree' | 'chatbot' | 'terminate' | 'channel_routing';

export interface RoutingChange {
  kind: ChangeKind;
  id: string;
  name: string | null;
  change: 'added' | 'removed' | 'changed';
}

const COLLECTIONS: [keyof RoutingDocument, ChangeKind][] = [
  ['queues', 'queue'],
  ['timeGroups', 'time_group'],
  ['timeConditions', 'time_condition'],
  ['decisionTrees', 'decision_tree'],
  ['chatbots', 'chatbot'],
  ['terminates', 'terminate'],
  ['channels', 'channel_routing'],
];

/** JSON with keys sorted, so that two equal objects compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/** What applying `to` over `from` would add, remove and change, object by object. */
export function compareDocuments(from: RoutingDocument, to: RoutingDocument): RoutingChange[] {
  const changes: RoutingChange[] = [];
  for (const [key, kind] of COLLECTIONS) {
    const idOf = (o: { id?: string; channelId?: string }) => (key === 'channels' ? o.channelId! : o.id!);
    const nameOf = (o: { name?: string }) => o.name ?? null;
    const before = new Map((from[key] as { id?: string; channelId?: string; name?: string }[]).map((o) => [idOf(o), o]));
    const after = new Map((to[key] as { id?: string; channelId?: string; name?: string }[]).map((o) => [idOf(o), o]));
    for (const [id, o] of after) {
      const old = before.get(id);
      if (!old) changes.push({ kind, id, name: nameOf(o), change: 'added' });
      else if (canonical(old) !== canonical(o)) changes.push({ kind, id, name: nameOf(o), change: 'changed' });
    }
    for (const [id, o] of before) if (!after.has(id)) changes.push({ kind, id, name: nameOf(o), change: 'removed' });
  }
  return changes;
}
