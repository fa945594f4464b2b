import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createOrm, migrate } from '@parley/db';
import { startTemporalDevServer, type DevServer } from '@parley/dev/temporal-cli';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalAddress: string;
  }
}

/**
 * One database for the run, made fresh and migrated; tests isolate themselves by creating their
 * own organization, never by truncating. One Temporal dev server, unless TEMPORAL_ADDRESS names one.
 */
export default async function setup(project: TestProject) {
  const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  // A database of its own per run, so runs side by side (CI, a developer, an editor) never collide.
  const dbName = process.env.TEST_DATABASE_NAME ?? `parley_test_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists "${dbName}" with (force)`);
  await admin.query(`create database "${dbName}"`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  const orm = await createOrm({ url: databaseUrl, poolMax: 2 });
  await migrate(orm);
  await orm.close(true);

  let temporal: DevServer | undefined;
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    temporal = await startTemporalDevServer();
    temporalAddress = temporal.address;
  }
  project.provide('databaseUrl', databaseUrl);
  project.provide('temporalAddress', temporalAddress);

  return async () => {
    await temporal?.stop();
    const cleanup = new pg.Client({ connectionString: adminUrl });
    await cleanup.connect();
    await cleanup.query(`drop database if exists "${dbName}" with (force)`);
    await cleanup.end();
  };
}
