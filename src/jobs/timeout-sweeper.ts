// Runs the session-timeout sweep every few seconds. Every instance runs one; the sweep
// itself is safe when they overlap (src/domain/session-timeouts.ts). The same tick
// forgets idempotency keys past their 24 hours (src/domain/idempotent-triggers.ts).
import type { PrismaClient } from '../database/generated/prisma/client.js';
import { forgetExpiredIdempotencyKeys } from '../domain/idempotent-triggers.js';
import { sweepExpiredRuns } from '../domain/session-timeouts.js';
import type { DomainServices } from '../domain/tenant.js';
import { logger } from '../observability/logger.js';

const BATCH_SIZE = 200;

export function startTimeoutSweeper(prisma: PrismaClient, services: DomainServices, intervalMs: number) {
  let running: Promise<void> | undefined;
  let stopped = false;

  async function sweepUntilCaughtUp() {
    try {
      // A full batch means there may be more due: keep going before the next tick.
      while (!stopped && (await sweepExpiredRuns(prisma, { ...services, batchSize: BATCH_SIZE })).timedOut === BATCH_SIZE);
      if (!stopped) await forgetExpiredIdempotencyKeys(prisma, services);
    } catch (error) {
      // The database may be away for a moment; the next tick tries again.
      logger.warn({ err: error }, 'session-timeout sweep failed; the next tick tries again');
    }
  }

  const timer = setInterval(() => {
    running ??= sweepUntilCaughtUp().finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
