// Liveness and readiness for load balancers and orchestrators.
import type { Database } from '../database/client.js';
import { pendingMigrations } from '../database/migrations.js';
import { type Logger, logger as defaultLogger } from '../observability/logger.js';

const json = (status: number, body: object) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** The process is up and answering. */
export const liveness = () => json(200, { status: 'ok' });

/** A stopping instance is not ready, whatever its database says. */
export const stoppingReadiness = () => json(503, { status: 'stopping' });

const READINESS_TIMEOUT_MS = 2_000;

/**
 * Ready when the database answers (within a bound, never a hang) and is fully migrated.
 * Why it is down goes to the log only: a driver's message names hosts and ports, and the
 * endpoint answers without a key.
 */
export async function readiness(db: Database, logger: Logger = defaultLogger): Promise<Response> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS);
  });
  try {
    const pending = await Promise.race([db.sql.query('SELECT 1').then(() => pendingMigrations(db.sql)), timeout]);
    if (pending.length) return json(503, { status: 'not ready', database: 'up', pendingMigrations: pending });
    return json(200, { status: 'ready', database: 'up', pendingMigrations: [] });
  } catch (error) {
    logger.warn({ err: error }, 'not ready: the database is down');
    return json(503, { status: 'not ready', database: 'down' });
  } finally {
    clearTimeout(timer);
  }
}
