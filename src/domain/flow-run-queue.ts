// The queue of a thread (docs/API.md, "The queue of a thread"), every rule written once:
//  - at most one run of a thread is running; a run triggered while one is, queues;
//  - when the running run ends, the oldest queued run (FIFO by `sequence`) starts;
//  - a running run expires its flow's `sessionTimeout` minutes after it started, and from
//    then on reads as `timeout` (before the sweeper has been by, too);
//  - an idempotency key counts for 24 hours; after that a trigger takes it over.
// Where SQL applies a rule (the one-statement trigger, the flow's timeout shift, the
// reads), it uses the fragment compiled here from the same Condition as the TypeScript
// predicate (src/domain/row-conditions.ts). The transitions that change which run of a
// thread is running are here too; each runs under the thread's row lock.
import { Prisma } from '../database/generated/prisma/client.js';
import type { TenantTransaction } from '../database/tenant.js';
import type { Channel } from './flow-run-input.js';
import { changeOf, type FlowRunChange } from './flow-run-changes.js';
import type { FlowRunStatus } from './flow-run-status.js';
import { after, all, any, atOrBefore, type Condition, equals, isNull, NOW, oneOf, predicateOf, sqlOf, whereOf } from './row-conditions.js';

const statusIs = (status: FlowRunStatus) => equals('status', status);

/** The status that holds a thread: the partial unique index FlowRun_one_running_per_thread keeps it to one run. */
const RUNNING = statusIs('running');
/** Running past its expiry: timed out for every reader, and for the sweeper to end. */
const EXPIRED = all(RUNNING, atOrBefore('expiresAt', NOW));
/** Running within its time: what a new run of the thread queues behind. */
const LIVE = all(RUNNING, any(isNull('expiresAt'), after('expiresAt', NOW)));

/** Whether a run of this status holds its thread: ending or deleting it starts the next. */
const isRunning = predicateOf(RUNNING);
export const holdsThread = (status: FlowRunStatus) => isRunning({ status }, new Date(0));

type Timed = { status: FlowRunStatus; expiresAt: Date | null };

export const isExpired: (run: Timed, now: Date) => boolean = predicateOf(EXPIRED);

/** The status a reader sees. */
export const effectiveStatus = (run: Timed, now: Date): FlowRunStatus => (isExpired(run, now) ? 'timeout' : run.status);

/** "Effective status is one of `statuses`" as a where clause (a status named twice is asked for once). */
export function effectiveStatusWhere(statuses: readonly FlowRunStatus[], now: Date): Prisma.FlowRunWhereInput {
  const others = [...new Set(statuses.filter((status) => status !== 'running'))];
  const alternatives: Condition[] = [
    ...(others.length ? [oneOf('status', others)] : []),
    ...(statuses.includes('running') ? [LIVE] : []),
    ...(statuses.includes('timeout') ? [EXPIRED] : []),
  ];
  return whereOf(any(...alternatives), now) as Prisma.FlowRunWhereInput;
}

export const expiredWhere = (now: Date) => whereOf(EXPIRED, now) as Prisma.FlowRunWhereInput;
export const expiredSql = (now: Date, alias?: string) => sqlOf(EXPIRED, now, alias);
export const liveSql = (now: Date, alias?: string) => sqlOf(LIVE, now, alias);

/** ON CONFLICT's target for "the thread already has a running run": the partial unique index. */
export const ONE_RUNNING_PER_THREAD = Prisma.sql`("messageThreadId") WHERE ${sqlOf(RUNNING, new Date(0))}`;

/** A run arriving at a thread runs unless the thread has a live running run. */
export const arrivalStatus = (threadHasLiveRun: boolean): 'running' | 'queued' => (threadHasLiveRun ? 'queued' : 'running');

// Expiry: `sessionTimeout` minutes after the run started (or after the expiry it had, when
// the flow's timeout changes by a number of minutes).
const MINUTE_MS = 60_000;
export const expiryFrom = (start: Date, minutes: number) => new Date(start.getTime() + minutes * MINUTE_MS);
export const expirySql = (start: Prisma.Sql, minutes: Prisma.Sql) => Prisma.sql`${start} + make_interval(mins => ${minutes})`;

/** How long an idempotency key counts. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * MINUTE_MS;
/** A key claimed at `createdAt` no longer counts: a trigger takes it over, housekeeping deletes it. */
const KEY_EXPIRED = atOrBefore('createdAt', { fromNow: -IDEMPOTENCY_KEY_TTL_MS });
export const isIdempotencyKeyExpired: (key: { createdAt: Date }, now: Date) => boolean = predicateOf(KEY_EXPIRED);
export const idempotencyKeyExpiredWhere = (now: Date) => whereOf(KEY_EXPIRED, now) as Prisma.IdempotentTriggerWhereInput;
export const idempotencyKeyExpiredSql = (now: Date, alias: string) => sqlOf(KEY_EXPIRED, now, alias);

// ---- Transitions: each caller holds the thread's row lock (lockThread).

type Transaction = TenantTransaction | Prisma.TransactionClient;

/**
 * Locks the thread's row for the rest of the transaction. Everything that changes which
 * run of a thread is running takes this lock first, so triggers, endings, promotions and
 * timeouts on one thread happen one at a time (the partial unique index is the last word).
 */
export async function lockThread(tx: TenantTransaction, organizationId: string, threadId: string) {
  const rows = await tx.$queryRaw<{ id: string; channel: Channel }[]>`
    SELECT id, channel::text AS channel FROM "MessageThread"
    WHERE id = ${threadId}::uuid AND "organizationId" = ${organizationId}::uuid
    FOR UPDATE`;
  return rows[0];
}

/** Times out the thread's running run if it is past its expiry; returns the run still running. */
export async function currentRunningRun(tx: Transaction, messageThreadId: string, now: Date, changes: FlowRunChange[]) {
  const running = await tx.flowRun.findFirst({
    where: { messageThreadId, ...whereOf(RUNNING, now) },
    select: { id: true, messageThreadId: true, status: true, expiresAt: true },
  });
  if (!running || !isExpired(running, now)) return running;
  await timeOutRun(tx, running, now, changes);
  return tx.flowRun.findFirst({ where: { messageThreadId, ...whereOf(RUNNING, now) }, select: { id: true } });
}

/** The oldest queued run of the thread starts running, with its own flow's timeout. */
export async function promoteNextQueued(tx: Transaction, messageThreadId: string, now: Date, changes: FlowRunChange[]) {
  const next = await tx.flowRun.findFirst({
    where: { messageThreadId, ...whereOf(statusIs('queued'), now) },
    orderBy: { sequence: 'asc' },
    select: { id: true, flow: { select: { sessionTimeout: true } } },
  });
  if (!next) return undefined;
  const promoted = await tx.flowRun.update({
    where: { id: next.id },
    data: { status: 'running', expiresAt: expiryFrom(now, next.flow.sessionTimeout) },
  });
  changes.push(changeOf('promoted', promoted, now));
  return promoted;
}

/** Ends a running run that is past its expiry, and promotes the next. */
export async function timeOutRun(tx: Transaction, run: { id: string; messageThreadId: string }, now: Date, changes: FlowRunChange[]) {
  const timedOut = await tx.flowRun.update({ where: { id: run.id }, data: { status: 'timeout', expiresAt: null } });
  changes.push(changeOf('timedOut', timedOut, now));
  await promoteNextQueued(tx, run.messageThreadId, now, changes);
  return timedOut;
}
