import { Client, Connection } from '@temporalio/client';
import type { Config } from '@parley/config';

/** The API's single Temporal client. The connection is lazy so the API can start (and report not-ready) while Temporal is down. */
export function createTemporalClient(config: Config): { client: Client; connection: Connection } {
  if (!config.temporal.address) throw new Error('TEMPORAL_ADDRESS is not set');
  const connection = Connection.lazy({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  return { client, connection };
}
