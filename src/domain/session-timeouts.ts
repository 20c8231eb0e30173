// The sweeper: makes in the database what every reader already sees, ending the runs past
// their expiry (the rule, src/domain/flow-run-queue.ts) and starting the next of each thread.
import type { PrismaClient } from '../database/generated/prisma/client.js';
import type { Clock, FlowRunChange, FlowRunChangePublisher } from './flow-run-changes.js';
import { expiredWhere, isExpired, timeOutRun } from './flow-run-queue.js';
import { TRANSACTION_OPTIONS } from './transactions.js';
import { recordWebhookEvents } from './webhook-events.js';

export interface SweepResult {
  timedOut: number;
}

/**
 * One pass of the sweeper over every organization: times out up to `batchSize` expired
 * runs. Safe with several instances sweeping at once: a thread another sweeper (or a
 * request) holds is skipped (SKIP LOCKED), and each run is checked again under the lock,
 * so no run is timed out or promoted twice and none is lost.
 */
export async function sweepExpiredRuns(
  prisma: PrismaClient,
  { clock, changes: publisher, batchSize = 100 }: { clock: Clock; changes: FlowRunChangePublisher; batchSize?: number },
): Promise<SweepResult> {
  const now = clock.now();
  const due = await prisma.flowRun.findMany({
    where: expiredWhere(now),
    orderBy: { expiresAt: 'asc' },
    take: batchSize,
    select: { id: true, messageThreadId: true },
  });
  let timedOut = 0;
  for (const candidate of due) {
    const changes: FlowRunChange[] = [];
    await prisma.$transaction(async (tx) => {
      const locked = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM "MessageThread" WHERE id = ${candidate.messageThreadId}::uuid FOR UPDATE SKIP LOCKED`;
      if (locked.length === 0) return;
      const run = await tx.flowRun.findUnique({ where: { id: candidate.id }, select: { status: true, expiresAt: true } });
      if (!run || !isExpired(run, now)) return;
      await timeOutRun(tx, candidate, now, changes);
      await recordWebhookEvents(tx, changes);
      timedOut++;
    }, TRANSACTION_OPTIONS);
    publisher.publish(changes);
  }
  return { timedOut };
}
