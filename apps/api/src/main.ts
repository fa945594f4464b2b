import { loadConfigOrExit } from '@parley/config';
import { createLogger } from '@parley/core';
import { startApi } from './server';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'api' });
const api = await startApi(config, logger);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    api.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
