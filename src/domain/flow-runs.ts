// The flow-run rules (docs/API.md, "The run's status" and "The queue of a thread"): triggering into a thread's FIFO queue, ending runs,
// promoting the next queued run, and what may be patched when. Every change is
// announced after its transaction commits.
import { randomUUID } from 'node:crypto';
import type { FlowRun } from '../database/generated/prisma/client.js';
import type { TenantClient, TenantTransaction } from '../database/tenant.js';
import { isUniqueViolation } from './database-errors.js';
import { DomainError, notFound } from './errors.js';
import { changeOf, type FlowRunChange } from './flow-run-changes.js';
import { messageForEveryChannel, parseInitialMessage, parseState } from './flow-run-input.js';
import { arrivalStatus, currentRunningRun, expiryFrom, holdsThread, isExpired, lockThread, promoteNextQueued, timeOutRun } from './flow-run-queue.js';
import { assertSettableStatus, type FlowRunStatus, statusChange } from './flow-run-status.js';
import { claimIdempotencyKey, idempotencyKeyReused } from './idempotent-triggers.js';
import { assertCanWrite, type Tenant } from './tenant.js';
import { triggerInOneStatement } from './trigger-in-one-statement.js';
import { type PreparedTrigger, prepareTrigger, type TriggerFlowRunInput } from './trigger-input.js';
import { recordWebhookEvents } from './webhook-events.js';
import { inTransaction } from './transactions.js';

export type { FlowRun };
export type { TriggerFlowRunInput };

export interface TriggeredFlowRun {
  run: FlowRun;
  /** True when an earlier trigger with the same idempotency key created `run`. */
  replayed: boolean;
}

export interface PatchFlowRunInput {
  status?: FlowRunStatus | null;
  state?: unknown;
  /** Never accepted: present only so that the caller is told why. */
  initialMessage?: unknown;
}

/**
 * Takes the lock of the run's thread and reads the run again under it: meanwhile it may
 * have ended, been promoted, timed out or been deleted.
 */
async function lockRunAndRead(tx: TenantTransaction, tenant: Tenant, id: string): Promise<FlowRun> {
  const found = await tx.flowRun.findUnique({ where: { id }, select: { messageThreadId: true } });
  if (!found) throw notFound('FlowRun');
  await lockThread(tx, tenant.organizationId, found.messageThreadId);
  const run = await tx.flowRun.findUnique({ where: { id } });
  if (!run) throw notFound('FlowRun');
  return run;
}

/** Runs `work` in a transaction and announces the changes it recorded once it committed. */
async function changingRuns<T>(tenant: Tenant, work: (tx: TenantTransaction, changes: FlowRunChange[]) => Promise<T>) {
  let changes: FlowRunChange[] = [];
  const result = await inTransaction(tenant.db, async (tx) => {
    changes = [];
    const done = await work(tx, changes);
    // In the same transaction: a webhook hears of exactly the changes that commit.
    await recordWebhookEvents(tx, changes);
    return done;
  });
  tenant.changes.publish(changes);
  return result;
}

/**
 * Triggers in one statement when it can (an opening message every channel accepts and no
 * expired run to end first: the common case), step by step otherwise. Both apply the same
 * rules; test/domain/trigger-paths.test.ts compares them.
 */
export async function triggerFlowRun(tenant: Tenant, input: TriggerFlowRunInput): Promise<TriggeredFlowRun> {
  assertCanWrite(tenant);
  const trigger = prepareTrigger(tenant, input);
  const universalMessage = messageForEveryChannel(trigger.initialMessage);
  if (universalMessage) {
    const { now, idempotency } = trigger;
    const done = await triggerInOneStatement(tenant, { ...trigger, initialMessage: universalMessage });
    if (done?.created) {
      tenant.changes.publish([changeOf('triggered', done.created, now)]);
      return { run: done.created, replayed: false };
    }
    if (done) {
      // The key is an earlier trigger's, committed: its run, as it is now, in a second statement.
      if (done.keyClaimed.requestHash !== idempotency?.requestHash) throw idempotencyKeyReused();
      return { run: await replayedRun(tenant.db, done.keyClaimed.flowRunId), replayed: true };
    }
  }
  return triggerStepByStep(tenant, trigger);
}

/** The trigger as one transaction of several statements, which says what is wrong when something is. */
export async function triggerStepByStep(tenant: Tenant, trigger: PreparedTrigger): Promise<TriggeredFlowRun> {
  assertCanWrite(tenant);
  const { flowId, messageThreadId, state, now, idempotency } = trigger;
  const id = randomUUID();
  try {
    return await changingRuns(tenant, async (tx, changes) => {
      // The thread is locked before the key is claimed, in the order the one-statement
      // trigger takes them, so that the two paths cannot deadlock on one key and thread.
      const thread = await lockThread(tx, tenant.organizationId, messageThreadId);
      if (idempotency !== undefined) {
        // A concurrent retry waits here until this one commits (then replays) or rolls
        // back (then claims the key itself). A replay does not need the thread to exist.
        const claim = await claimIdempotencyKey(tx, { organizationId: tenant.organizationId, ...idempotency, flowRunId: id, now });
        if (!claim.claimed) return { run: await replayedRun(tx, claim.flowRunId), replayed: true };
      }
      if (!thread) {
        throw new DomainError('REFERENCED_RESOURCE_NOT_FOUND', 'messageThreadId: no such message thread', ['messageThreadId']);
      }
      const initialMessage = parseInitialMessage(trigger.initialMessage, thread.channel);
      const flow = await tx.flow.findUnique({ where: { id: flowId }, select: { sessionTimeout: true } });
      if (!flow) {
        throw new DomainError('REFERENCED_RESOURCE_NOT_FOUND', 'flowId: no such flow', ['flowId']);
      }
      const status = arrivalStatus(Boolean(await currentRunningRun(tx, messageThreadId, now, changes)));
      const run = await tx.flowRun.create({
        data: {
          id,
          organizationId: tenant.organizationId,
          flowId,
          messageThreadId,
          state: state as object,
          initialMessage: initialMessage as object,
          status,
          expiresAt: holdsThread(status) ? expiryFrom(now, flow.sessionTimeout) : null,
        },
      });
      changes.push(changeOf('triggered', run, now));
      return { run, replayed: false };
    });
  } catch (error) {
    // Only reachable if a writer skipped the thread lock: the index refused a second
    // running run. Say so plainly rather than as a server error.
    if (isUniqueViolation(error)) {
      throw new DomainError('CONCURRENT_CHANGE', 'the thread changed while the run was being triggered; retry');
    }
    throw error;
  }
}

/**
 * The run an earlier trigger with the same key created, as it is now. Deleted since: the
 * key still counts (the trigger must not happen twice), so the retry is refused with 409.
 */
async function replayedRun(db: TenantClient | TenantTransaction, id: string): Promise<FlowRun> {
  const run = await db.flowRun.findUnique({ where: { id } });
  if (!run) {
    throw new DomainError(
      'IDEMPOTENT_RUN_DELETED',
      'the flow run created with this idempotency key has since been deleted; use a new key to trigger again',
      ['idempotencyKey'],
    );
  }
  return run;
}

export async function patchFlowRun(tenant: Tenant, id: string, patch: PatchFlowRunInput): Promise<FlowRun> {
  assertCanWrite(tenant);
  if (patch.initialMessage !== undefined) {
    throw new DomainError('INITIAL_MESSAGE_IMMUTABLE', 'opening message can not be updated', ['initialMessage']);
  }
  const requestedStatus = patch.status ?? undefined;
  if (requestedStatus) assertSettableStatus(requestedStatus);
  const state = patch.state === undefined ? undefined : parseState(patch.state);
  const now = tenant.clock.now();

  return changingRuns(tenant, async (tx, changes) => {
    let run = await lockRunAndRead(tx, tenant, id);
    if (isExpired(run, now)) run = await timeOutRun(tx, run, now, changes);

    const change = requestedStatus ? statusChange(run.status, requestedStatus) : 'unchanged';
    const status = requestedStatus && change === 'change' ? requestedStatus : run.status;
    if (state !== undefined && holdsThread(status)) {
      throw new DomainError('STATE_LOCKED_WHILE_RUNNING', 'state can only be replaced once the flow run is not running', ['state']);
    }
    if (change === 'unchanged' && state === undefined) return run;

    const updated = await tx.flowRun.update({
      where: { id },
      data: {
        status,
        ...(!holdsThread(status) && { expiresAt: null }),
        ...(state !== undefined && { state: state as object }),
      },
    });
    changes.push(changeOf('updated', updated, now));
    if (holdsThread(run.status) && !holdsThread(status)) {
      await promoteNextQueued(tx, run.messageThreadId, now, changes);
    }
    return updated;
  });
}

export async function deleteFlowRun(tenant: Tenant, id: string): Promise<void> {
  assertCanWrite(tenant);
  const now = tenant.clock.now();
  await changingRuns(tenant, async (tx, changes) => {
    const run = await lockRunAndRead(tx, tenant, id);
    await tx.flowRun.delete({ where: { id } });
    changes.push(changeOf('deleted', run, now, null));
    if (holdsThread(run.status)) await promoteNextQueued(tx, run.messageThreadId, now, changes);
  });
}
