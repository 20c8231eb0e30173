// The flow-run rules of SPEC §3: triggering into a thread's FIFO queue, ending runs,
// promoting the next queued run, and what may be patched when.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { TenantTransaction } from '../database/tenant.js';
import type { FlowRun } from '../database/generated/prisma/client.js';
import { isUniqueViolation } from './database-errors.js';
import { DomainError, notFound } from './errors.js';
import { type Channel, parseInitialMessage, parseState } from './flow-run-input.js';
import { assertSettableStatus, type FlowRunStatus, statusChange } from './flow-run-status.js';
import { assertCanWrite, type Tenant } from './tenant.js';
import { inTransaction } from './transactions.js';
import { parseInput } from './validation.js';

export type { FlowRun };

export interface TriggerFlowRunInput {
  flowId: string;
  messageThreadId: string;
  state?: unknown;
  initialMessage?: unknown;
}

export interface PatchFlowRunInput {
  status?: FlowRunStatus | null;
  state?: unknown;
  /** Never accepted: present only so that the caller is told why. */
  initialMessage?: unknown;
}

const referencesSchema = z.object({
  flowId: z.uuid('must be a UUID'),
  messageThreadId: z.uuid('must be a UUID'),
});

/**
 * Locks the thread's row for the rest of the transaction. Everything that changes which
 * run of a thread is running takes this lock first, so triggers, endings and promotions
 * on one thread happen one at a time (the partial unique index is the last word).
 */
async function lockThread(tx: TenantTransaction, organizationId: string, threadId: string) {
  const rows = await tx.$queryRaw<{ id: string; channel: Channel }[]>`
    SELECT id, channel::text AS channel FROM "MessageThread"
    WHERE id = ${threadId}::uuid AND "organizationId" = ${organizationId}::uuid
    FOR UPDATE`;
  return rows[0];
}

/** The oldest queued run of the thread starts running; the caller holds the thread lock. */
export async function promoteNextQueued(tx: TenantTransaction, messageThreadId: string): Promise<FlowRun | undefined> {
  const next = await tx.flowRun.findFirst({
    where: { messageThreadId, status: 'queued' },
    orderBy: { sequence: 'asc' },
    select: { id: true },
  });
  if (!next) return undefined;
  return tx.flowRun.update({ where: { id: next.id }, data: { status: 'running' } });
}

export async function triggerFlowRun(tenant: Tenant, input: TriggerFlowRunInput): Promise<FlowRun> {
  assertCanWrite(tenant);
  const { flowId, messageThreadId } = parseInput(referencesSchema, input);
  const state = parseState(input.state);
  try {
    return await inTransaction(tenant.db, async (tx) => {
      const thread = await lockThread(tx, tenant.organizationId, messageThreadId);
      if (!thread) {
        throw new DomainError('REFERENCED_RESOURCE_NOT_FOUND', 'messageThreadId: no such message thread', ['messageThreadId']);
      }
      const initialMessage = parseInitialMessage(input.initialMessage, thread.channel);
      const flow = await tx.flow.findUnique({ where: { id: flowId }, select: { id: true } });
      if (!flow) {
        throw new DomainError('REFERENCED_RESOURCE_NOT_FOUND', 'flowId: no such flow', ['flowId']);
      }
      const running = await tx.flowRun.findFirst({
        where: { messageThreadId, status: 'running' },
        select: { id: true },
      });
      return tx.flowRun.create({
        data: {
          id: randomUUID(),
          organizationId: tenant.organizationId,
          flowId,
          messageThreadId,
          state: state as object,
          initialMessage: initialMessage as object,
          status: running ? 'queued' : 'running',
        },
      });
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

export async function patchFlowRun(tenant: Tenant, id: string, patch: PatchFlowRunInput): Promise<FlowRun> {
  assertCanWrite(tenant);
  if (patch.initialMessage !== undefined) {
    throw new DomainError('INITIAL_MESSAGE_IMMUTABLE', 'opening message can not be updated', ['initialMessage']);
  }
  const requestedStatus = patch.status ?? undefined;
  if (requestedStatus) assertSettableStatus(requestedStatus);
  const state = patch.state === undefined ? undefined : parseState(patch.state);

  return inTransaction(tenant.db, async (tx) => {
    const found = await tx.flowRun.findUnique({ where: { id }, select: { messageThreadId: true } });
    if (!found) throw notFound('FlowRun');
    await lockThread(tx, tenant.organizationId, found.messageThreadId);
    // Read again under the lock: the run may have ended or been promoted meanwhile.
    const run = await tx.flowRun.findUnique({ where: { id } });
    if (!run) throw notFound('FlowRun');

    const change = requestedStatus ? statusChange(run.status, requestedStatus) : 'unchanged';
    const status = change === 'change' ? requestedStatus! : run.status;
    if (state !== undefined && status === 'running') {
      throw new DomainError(
        'STATE_LOCKED_WHILE_RUNNING',
        'state can only be replaced once the flow run is not running',
        ['state'],
      );
    }
    if (change === 'unchanged' && state === undefined) return run;

    const updated = await tx.flowRun.update({
      where: { id },
      data: { status, ...(state !== undefined && { state: state as object }) },
    });
    if (run.status === 'running' && status !== 'running') {
      await promoteNextQueued(tx, run.messageThreadId);
    }
    return updated;
  });
}

export async function deleteFlowRun(tenant: Tenant, id: string): Promise<void> {
  assertCanWrite(tenant);
  await inTransaction(tenant.db, async (tx) => {
    const found = await tx.flowRun.findUnique({ where: { id }, select: { messageThreadId: true } });
    if (!found) throw notFound('FlowRun');
    await lockThread(tx, tenant.organizationId, found.messageThreadId);
    const run = await tx.flowRun.findUnique({ where: { id }, select: { status: true } });
    if (!run) throw notFound('FlowRun');
    await tx.flowRun.delete({ where: { id } });
    if (run.status === 'running') await promoteNextQueued(tx, found.messageThreadId);
  });
}
