// `npm run migrate`: applies the pending migrations and exits (non-zero if that fails), for
// deploy pipelines that migrate once before rolling out instances started with
// MIGRATE_ON_START=false.
import { readConfig } from './config.js';
import { openDatabase } from './database/client.js';
import { logger } from './observability/logger.js';

const config = readConfig();
try {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, migrate: true });
  const applied = db.appliedMigrations;
  logger.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'no pending migrations');
  await db.close();
} catch (error) {
  logger.error({ err: error }, 'migrating failed');
  process.exitCode = 1;
}
