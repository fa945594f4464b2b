import type { SqlRunner } from '../sql';
import type { RoutingDocument } from './config';
import { parseStoredDocument, promoteDueSchedules } from './versions';

/**
 * The live routing as the runtime reads it, on every new conversation and every inbound
 * attachment: the version in force is one indexed row, and its document, which never changes
 * once written, is parsed once per process and kept by version id.
 */

export interface LiveDocument {
  versionId: string;
  versionNumber: number;
  document: RoutingDocument;
}

const MAX_CACHED = 2000;
const parsed = new Map<string, { organizationId: string; document: RoutingDocument }>();

function remember(versionId: string, organizationId: string, document: RoutingDocument): RoutingDocument {
  if (parsed.size >= MAX_CACHED) parsed.delete(parsed.keys().next().value!);
  parsed.set(versionId, { organizationId, document });
  return document;
}

/**
 * A version's document, or undefined when the organization has no such version. A cached one
 * costs no query: a version is never changed once written.
 */
export async function versionDocument(sql: SqlRunner, organizationId: string, versionId: string): Promise<RoutingDocument | undefined> {
  const cached = parsed.get(versionId);
  if (cached?.organizationId === organizationId) return cached.document;
  const [row] = await sql.all<{ document: unknown }>('select document from routing_versions where id = ? and organization_id = ?', [versionId, organizationId]);
  return row ? remember(versionId, organizationId, parseStoredDocument(row.document)) : undefined;
}

/** The version in force at `now` (a due scheduled apply is promoted first), or null before the first apply. */
export async function liveDocument(sql: SqlRunner, organizationId: string, now: Date): Promise<LiveDocument | null> {
  await promoteDueSchedules(sql, now, organizationId);
  const [row] = await sql.all<{ id: string; number: number }>('select id, number from routing_versions where organization_id = ? order by number desc limit 1', [organizationId]);
  if (!row) return null;
  return { versionId: row.id, versionNumber: Number(row.number), document: (await versionDocument(sql, organizationId, row.id))! };
}

/** A given version's document (a tree or bot session keeps the version it started in). */
export async function versionById(sql: SqlRunner, organizationId: string, versionId: string): Promise<LiveDocument | null> {
  const [row] = await sql.all<{ id: string; number: number }>('select id, number from routing_versions where id = ? and organization_id = ?', [versionId, organizationId]);
  if (!row) return null;
  return { versionId: row.id, versionNumber: Number(row.number), document: (await versionDocument(sql, organizationId, row.id))! };
}

/**
 * Whether any live version (or pending schedule) routes the channel: one index probe, so paths
 * that run for every message (attachments) cost nothing on channels without routing.
 */
export async function channelIsRouted(sql: SqlRunner, organizationId: string, channelId: string): Promise<boolean> {
  const rows = await sql.all('select 1 from routing_channels where channel_id = ? and organization_id = ? limit 1', [channelId, organizationId]);
  return rows.length > 0;
}
