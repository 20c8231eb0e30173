// Session timeouts (docs/API.md, "The queue of a thread"): a running run idle for longer than its flow's
// sessionTimeout becomes `timeout` and its thread's next queued run starts. Each running
// run carries `expiresAt`; reads judge a run by it (so a run past its time never reads
// as running, even before the sweeper has been by), and the sweeper makes it so in the
// database.
import type { Prisma, PrismaClient } from '../database/generated/prisma/client.js';
import type { TenantTransaction } from '../database/tenant.js';
import type { Clock, FlowRunChange, FlowRunChangePublisher, FlowRunSnapshot } from './flow-run-changes.js';
import { recordWebhookEvents } from './webhook-events.js';
import type { FlowRunStatus } from './flow-run-status.js';

const MINUTE = 60_000;

export const expiryFrom = (now: Date, sessionTimeoutMinutes: number) => new Date(now.getTime() + sessionTimeoutMinutes * MINUTE);

export const isExpired = (run: { status: FlowRunStatus; expiresAt: Date | null }, now: Date) =>
  run.status === 'running' && run.expiresAt !== null && run.expiresAt <= now;

/** The status a reader sees: a running run past its expiry has timed out. */
export function effectiveStatus(run: { status: FlowRunStatus; expiresAt: Date | null }, now: Date): FlowRunStatus {
  return isExpired(run, now) ? 'timeout' : run.status;
}

/** A where clause for "effective status is one of `statuses`". */
export function effectiveStatusWhere(statuses: readonly FlowRunStatus[], now: Date): Prisma.FlowRunWhereInput {
  const alive = { status: 'running' as const, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
  const expired = { status: 'running' as const, expiresAt: { lte: now } };
  // A status named twice is asked for once.
  const others = [...new Set(statuses.filter((status) => status !== 'running'))];
  return {
    OR: [
      ...(others.length ? [{ status: { in: others } }] : []),
      ...(statuses.includes('running') ? [alive] : []),
      ...(statuses.includes('timeout') ? [expired] : []),
    ],
  };
}

type Transaction = TenantTransaction | Prisma.TransactionClient;

/**
 * The oldest queued run of the thread starts running, with its own flow's timeout. The
 * caller holds the thread lock.
 */
export async function promoteNextQueued(tx: Transaction, messageThreadId: string, now: Date, changes: FlowRunChange[]) {
  const next = await tx.flowRun.findFirst({
    where: { messageThreadId, status: 'queued' },
    orderBy: { sequence: 'asc' },
    select: { id: true, organizationId: true, flow: { select: { sessionTimeout: true } } },
  });
  if (!next) return undefined;
  const promoted = await tx.flowRun.update({
    where: { id: next.id },
    data: { status: 'running', expiresAt: expiryFrom(now, next.flow.sessionTimeout) },
  });
  changes.push(changeOf('promoted', promoted, now));
  return promoted;
}

/** Ends a running run that is past its expiry, and promotes the next. Caller holds the lock. */
export async function timeOutRun(tx: Transaction, run: { id: string; messageThreadId: string }, now: Date, changes: FlowRunChange[]) {
  const timedOut = await tx.flowRun.update({
    where: { id: run.id },
    data: { status: 'timeout', expiresAt: null },
  });
  changes.push(changeOf('timedOut', timedOut, now));
  await promoteNextQueued(tx, run.messageThreadId, now, changes);
  return timedOut;
}

export function changeOf(
  kind: FlowRunChange['kind'],
  run: FlowRunSnapshot & { organizationId: string },
  now: Date,
  status: FlowRunStatus | null = run.status,
): FlowRunChange {
  const { id, flowId, messageThreadId, state, initialMessage, cost, createdAt, updatedAt } = run;
  return {
    kind,
    organizationId: run.organizationId,
    flowRunId: run.id,
    messageThreadId: run.messageThreadId,
    status,
    at: now.toISOString(),
    run: { id, flowId, messageThreadId, state, initialMessage, status: run.status, cost, createdAt, updatedAt },
  };
}

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
    where: { status: 'running', expiresAt: { lte: now } },
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
    });
    publisher.publish(changes);
  }
  return { timedOut };
}
