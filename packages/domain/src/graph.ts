import type { Config } from '@parley/config';
import type { Logger } from '@parley/core';
import { GraphClient } from '@parley/graph';

/** The Graph API client as configured (META_GRAPH_URL, META_GRAPH_VERSION, app id and secret). */
export function graphClientFor(config: Config, logger: Logger): GraphClient {
  return new GraphClient({
    baseUrl: config.meta.graphUrl,
    version: config.meta.graphVersion,
    appId: config.meta.appId ?? '',
    appSecret: config.meta.appSecret,
    logger: logger.child({ component: 'graph' }),
  });
}
