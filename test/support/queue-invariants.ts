// The queue's promise, checked from outside: read every run of an organization as stored
// and list every way a thread breaks it. Race tests take a snapshot before and after a
// round of concurrent writes and fail on any violation, so a rule the code forgets under
// some interleaving shows up as a line here rather than as a stuck run in production.
import type { PrismaClient } from '../../src/database/generated/prisma/client.ts';

interface StoredRun {
  id: string;
  threadId: string;
  flowId: string;
  status: string;
  sequence: bigint;
  expiresAt: Date | null;
}

export interface QueueSnapshot {
  /** When the snapshot was read: what "reads say" is judged against. */
  at: Date;
  runs: Map<string, StoredRun>;
  /** Each flow's sessionTimeout, in minutes. */
  sessionTimeouts: Map<string, number>;
  storedCount: number;
  keptCount: number;
}

export async function snapshotQueues(prisma: PrismaClient, organizationId: string, at = new Date()): Promise<QueueSnapshot> {
  const runs = await prisma.$queryRaw<StoredRun[]>`
    SELECT id::text, "messageThreadId"::text AS "threadId", "flowId"::text AS "flowId", status::text AS status,
           sequence, "expiresAt"
    FROM "FlowRun" WHERE "organizationId" = ${organizationId}::uuid`;
  const flows = await prisma.$queryRaw<{ id: string; sessionTimeout: number }[]>`
    SELECT id::text, "sessionTimeout" FROM "Flow" WHERE "organizationId" = ${organizationId}::uuid`;
  const [kept] = await prisma.$queryRaw<{ count: bigint | null }[]>`
    SELECT sum(count)::bigint AS count FROM "FlowRunCount" WHERE "organizationId" = ${organizationId}::uuid`;
  return {
    at,
    runs: new Map(runs.map((run) => [run.id, run])),
    sessionTimeouts: new Map(flows.map((flow) => [flow.id, flow.sessionTimeout])),
    storedCount: runs.length,
    keptCount: Number(kept?.count ?? 0),
  };
}

/** What a reader at `at` is told the run's status is (a running run past its expiry has timed out). */
const readStatus = (run: StoredRun, at: Date) => (run.status === 'running' && run.expiresAt !== null && run.expiresAt <= at ? 'timeout' : run.status);

/**
 * Every broken rule in `after`, as readable lines (empty when the queue holds). With
 * `before`, also the rules about how the round may have changed runs:
 * - a run that read as timeout before is never stored as running with a later expiry;
 * - a run running (and unexpired) throughout moved its expiry by exactly its flow's
 *   sessionTimeout change.
 */
export function queueViolations(after: QueueSnapshot, before?: QueueSnapshot): string[] {
  const violations: string[] = [];
  const threads = new Map<string, StoredRun[]>();
  for (const run of after.runs.values()) {
    const list = threads.get(run.threadId) ?? [];
    list.push(run);
    threads.set(run.threadId, list);
  }
  for (const [threadId, runs] of threads) {
    runs.sort((a, b) => (a.sequence < b.sequence ? -1 : 1));
    const shape = runs.map((run) => run.status).join(' ');
    const running = runs.filter((run) => run.status === 'running');
    const queued = runs.filter((run) => run.status === 'queued');
    if (running.length > 1) violations.push(`thread ${threadId}: ${running.length} running runs (${shape})`);
    if (queued.length > 0 && running.length === 0) {
      violations.push(`thread ${threadId}: ${queued.length} queued run(s) and nothing running (${shape})`);
    }
    const oldestWaiting = runs.find((run) => run.status === 'running' || run.status === 'queued');
    if (running.length === 1 && oldestWaiting !== running[0]) {
      violations.push(`thread ${threadId}: the running run is not the oldest unended one (${shape})`);
    }
  }
  if (after.keptCount !== after.storedCount) {
    violations.push(`kept run count ${after.keptCount} differs from the ${after.storedCount} runs stored`);
  }
  if (!before) return violations;

  for (const [id, was] of before.runs) {
    const now = after.runs.get(id);
    if (now?.status !== 'running' || now.expiresAt === null) continue;
    if (readStatus(was, before.at) === 'timeout' && now.expiresAt > before.at) {
      violations.push(`run ${id}: read as timeout at ${before.at.toISOString()}, now running until ${now.expiresAt.toISOString()}`);
    }
    // Running throughout and never expired: a run that a shorter timeout expired mid-round
    // rightly stays expired when a later change lengthens the timeout again.
    if (was.status === 'running' && was.expiresAt !== null && was.expiresAt > after.at && now.expiresAt > after.at) {
      const change = after.sessionTimeouts.get(now.flowId)! - before.sessionTimeouts.get(was.flowId)!;
      const moved = (now.expiresAt.getTime() - was.expiresAt.getTime()) / 60_000;
      if (moved !== change) {
        violations.push(`run ${id}: expiry moved by ${moved} min while its flow's sessionTimeout changed by ${change}`);
      }
    }
  }
  return violations;
}
