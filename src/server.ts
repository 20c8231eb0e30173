// Starts the service: database (migrated), demo data on an empty embedded database,
// change fan-out, the session-timeout sweeper and the HTTP server; stops all of it
// cleanly on SIGTERM/SIGINT. Everything it tells goes through the JSON logger, start and
// stop included: `listening` (with `url` and `port`) once it serves, `stopped` at the end.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readConfig, webhookRetryPolicy } from './config.js';
import { type Database, EmbeddedDatabaseBusyError, openDatabase } from './database/client.js';
import { pendingMigrations } from './database/migrations.js';
import { seedDemoIfEmpty } from './demo-data.js';
import { type FlowRunChange, systemClock } from './domain/flow-run-changes.js';
import { deliveryQueueStats } from './domain/webhook-deliveries.js';
import { listenForRevocations } from './events/api-key-revocations.js';
import { createFlowRunChangeBus } from './events/flow-run-change-bus.js';
import { createApp } from './http/app.js';
import { createClientLimits } from './http/client-limits.js';
import { createRateLimiter } from './http/rate-limit.js';
import { serveMetrics } from './http/metrics-endpoint.js';
import { serve } from './http/serve.js';
import { startTimeoutSweeper } from './jobs/timeout-sweeper.js';
import { startWebhookWorker } from './jobs/webhook-worker.js';
import { logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { startTracing } from './observability/tracing.js';
import { createRedisClient } from './redis.js';

// A start that fails (a setting out of range, an unreachable database) or a crash says why
// in a log line like any other, then exits non-zero as Node would.
process.on('uncaughtException', (error) => {
  logger.fatal({ err: error }, error instanceof Error ? error.message : String(error));
  process.exit(1);
});

const config = readConfig();
// Before the database opens, so its client reports to the tracer from the first statement.
const tracing = await startTracing(config.tracing, logger);
if (tracing) logger.info('tracing: spans go to the OTLP endpoint');
let opened: Database | undefined;
const metrics = createMetrics({
  poolStats: () => opened?.poolStats?.(),
  webhookQueue: async () => (opened ? deliveryQueueStats(opened.prisma, systemClock.now()) : undefined),
});
const db = await openDatabase({
  databaseUrl: config.databaseUrl,
  dataDir: config.dataDir,
  migrate: config.migrateOnStart,
  poolSize: config.databasePoolSize,
  onQuery: () => metrics.dbStatements.inc(),
}).catch((error) => {
  if (error instanceof EmbeddedDatabaseBusyError) {
    // Not a fault to trace: another process has the data directory, and the message says which to stop.
    logger.fatal({ dataDir: config.dataDir }, error.message);
    process.exit(1);
  }
  throw error;
});
opened = db;

const changeBus = createFlowRunChangeBus({ redisUrl: config.redisUrl, metrics });
const webhookUrls = { allowPrivate: config.webhookAllowPrivateUrls };
const webhooks = startWebhookWorker(db.prisma, {
  clock: systemClock,
  retry: webhookRetryPolicy(config),
  pollIntervalMs: config.webhookPollIntervalMs,
  timeoutMs: config.webhookTimeoutMs,
  allowPrivateUrls: config.webhookAllowPrivateUrls,
  onAttempt: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
  onDropped: (count) => metrics.webhookDeliveriesDropped.inc(count),
});
const changes = {
  publish(committed: readonly FlowRunChange[]) {
    changeBus.publish(committed);
    // A committed change may have written webhook deliveries: send them now, not at the next poll.
    if (committed.length) webhooks.wake();
  },
};
const services = { clock: systemClock, changes, webhookUrls };
const sweeper = startTimeoutSweeper(db.prisma, services, config.sweepIntervalMs);
const rateLimitRedis = config.redisUrl ? createRedisClient(config.redisUrl, { role: 'rate-limit' }) : undefined;
const app = createApp({
  db,
  metrics,
  services,
  changeFeed: changeBus,
  graphiqlHeaders: await demoHeaders(db),
  // An explorer for people trying the demo; elsewhere only when the operator asks for it.
  graphiql: config.graphiql ?? db.kind === 'embedded',
  metricsToken: config.metricsToken,
  tracing,
  metricsRoute: config.metricsPort === undefined,
  rateLimiter: createRateLimiter({ perMinute: config.rateLimitPerMinute, redis: rateLimitRedis }),
  clientLimits: createClientLimits({
    authFailuresPerMinute: config.authFailuresPerMinute,
    keylessPerMinute: config.keylessPerMinute,
    trustProxy: config.trustProxy,
    redis: rateLimitRedis,
  }),
  requestTimeoutMs: config.requestTimeoutMs,
  maxSubscriptionsPerKey: config.maxSubscriptionsPerKey,
  apiKeyCacheTtlMs: config.apiKeyCacheTtlMs,
  // Exactly CORS_ORIGINS, on the demo too: with any origin allowed, a page of any site open
  // in a browser on this machine could read GraphiQL's page and the demo key in it.
  corsOrigins: config.corsOrigins,
});
// With Redis, a key revoked or rotated out anywhere is forgotten here within a second, and
// its open subscriptions end.
const revocations = config.redisUrl
  ? listenForRevocations({
      redisUrl: config.redisUrl,
      onRevoked: (ids) => void app.apiKeysChanged(ids),
      onListening: () => {
        void app.apiKeysChanged();
        logger.info('listening for API key revocations');
      },
    })
  : undefined;
const server = await serve(app, config.port, config.host);
const metricsServer =
  config.metricsPort === undefined
    ? undefined
    : await serveMetrics({ metrics, token: config.metricsToken, port: config.metricsPort, host: config.host });
if (metricsServer) {
  logger.info({ url: `http://${urlHost(config.host)}:${metricsServer.port}/metrics`, port: metricsServer.port }, 'metrics listening');
}
logger.info(
  { url: `http://${urlHost(config.host)}:${server.port}/graphql`, port: server.port, host: config.host ?? null, database: db.kind },
  'listening',
);

/** How a client on this machine reaches the listener: any interface includes localhost. */
function urlHost(host: string | undefined): string {
  if (!host || host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

// GraphiQL on the embedded demo database starts with the demo key filled in, for a browser
// on this machine only (src/graphql/yoga.ts). The key is kept beside the data (demo data
// only: real keys are never stored in clear).
async function demoHeaders(database: Database) {
  if (database.kind !== 'embedded') return undefined;
  // Not migrated yet (MIGRATE_ON_START=false): nothing to seed into until `npm run migrate`.
  if ((await pendingMigrations(database.sql)).length) return undefined;
  const demoKeyFile = join(config.dataDir, 'demo-api-key');
  const demoKey = await seedDemoIfEmpty(database);
  if (demoKey) {
    await writeFile(demoKeyFile, demoKey, { mode: 0o600 });
    // The key itself stays out of the log (no key is ever logged): it is in the file, and in GraphiQL's headers.
    logger.info({ organization: 'demo', apiKeyFile: demoKeyFile }, 'seeded a demo organization');
  }
  const key = demoKey ?? (await readFile(demoKeyFile, 'utf8').catch(() => undefined));
  return key ? { Authorization: key } : undefined;
}

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, graceMs: config.shutdownGraceMs, delayMs: config.shutdownDelayMs }, 'stopping');
  await server.close(config.shutdownGraceMs, config.shutdownDelayMs);
  // Scraped until the requests in flight are done, so the drain shows in the figures.
  await metricsServer?.close();
  await sweeper.stop();
  await webhooks.stop();
  await changeBus.close();
  await revocations?.close();
  await rateLimitRedis?.quit().catch(() => rateLimitRedis.disconnect());
  await db.close();
  // Last, so the spans of the requests drained above are sent too.
  await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'tracing: the last spans could not be sent'));
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
