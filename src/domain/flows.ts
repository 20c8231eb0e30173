// Flows: what a run executes. A flow with runs cannot be deleted (docs/API.md, "Resources").
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type Flow, Prisma } from '../database/generated/prisma/client.js';
import { isRecordNotFound } from './database-errors.js';
import { deleteUnlessItHasRuns } from './deletion.js';
import { notFound } from './errors.js';
import { expirySql, liveSql } from './flow-run-queue.js';
import { assertCanWrite, type Tenant } from './tenant.js';
import { inTransaction } from './transactions.js';
import { storableTimestamp } from './timestamps.js';
import { parseInput } from './validation.js';

export type { Flow };

const MAX_SESSION_TIMEOUT = 60 * 24 * 365; // a year, in minutes

const flowFields = {
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  reminderInterval: z.number().int('must be a whole number of minutes').min(0, 'must be 0 or more').nullable(),
  reminderMessage: z.string().max(4096, 'must be at most 4096 characters').nullable(),
  sessionTimeout: z
    .number()
    .int('must be a whole number of minutes')
    .min(1, 'must be at least 1 minute')
    .max(MAX_SESSION_TIMEOUT, `must be at most ${MAX_SESSION_TIMEOUT} minutes`),
  publishedAt: storableTimestamp.nullable(),
  unpublishedChanges: z.boolean(),
  flowGenerationId: z.uuid('must be a UUID').nullable(),
};

export interface FlowFilter {
  name?: string | null;
}

/**
 * Which flows a list shows. A name is compared as a new flow's would be stored (trimmed),
 * so that looking up the name a flow was created with finds it; an empty one is refused.
 */
export function flowWhere(filter: FlowFilter | null | undefined) {
  if (filter?.name == null) return {};
  return { name: parseInput(flowFields.name, filter.name, ['filter', 'name']) };
}

const createFlowSchema = z.object({
  ...flowFields,
  reminderInterval: flowFields.reminderInterval.optional(),
  reminderMessage: flowFields.reminderMessage.optional(),
  sessionTimeout: flowFields.sessionTimeout.optional(),
  publishedAt: flowFields.publishedAt.optional(),
  unpublishedChanges: flowFields.unpublishedChanges.optional(),
  flowGenerationId: flowFields.flowGenerationId.optional(),
});
const updateFlowSchema = z.object(flowFields).partial();

// Absent and null arrive alike from GraphQL; null clears only the nullable fields.
type OrNull<T> = { [K in keyof T]?: T[K] | null };
export type CreateFlowInput = OrNull<z.input<typeof createFlowSchema>>;
export type UpdateFlowInput = OrNull<z.input<typeof updateFlowSchema>>;

function withoutNulls(input: object, nullable: string[]): object {
  return Object.fromEntries(Object.entries(input).filter(([key, value]) => value !== null || nullable.includes(key)));
}
const NULLABLE: string[] = ['reminderInterval', 'reminderMessage', 'publishedAt', 'flowGenerationId'];

export async function createFlow(tenant: Tenant, input: CreateFlowInput): Promise<Flow> {
  assertCanWrite(tenant);
  const data = parseInput(createFlowSchema, withoutNulls(input, NULLABLE));
  return tenant.db.flow.create({ data: { ...data, id: randomUUID(), organizationId: tenant.organizationId } });
}

export async function updateFlow(tenant: Tenant, id: string, input: UpdateFlowInput): Promise<Flow> {
  assertCanWrite(tenant);
  const data = parseInput(updateFlowSchema, withoutNulls(input, NULLABLE));
  try {
    if (data.sessionTimeout === undefined) return await tenant.db.flow.update({ where: { id }, data });
    return await inTransaction(tenant.db, async (tx) => {
      // Locked before it is read: two concurrent changes must each shift runs from the
      // timeout the other left, not from the same stale one. NO KEY UPDATE, as the update
      // itself takes: triggers' foreign-key checks on the flow need not wait for it.
      const [before] = await tx.$queryRaw<{ sessionTimeout: number }[]>`
        SELECT "sessionTimeout" FROM "Flow"
        WHERE id = ${id}::uuid AND "organizationId" = ${tenant.organizationId}::uuid
        FOR NO KEY UPDATE`;
      if (!before) throw notFound('Flow');
      const flow = await tx.flow.update({ where: { id }, data });
      // A new timeout applies to the runs still running: move their expiry with it. A run
      // already past its expiry has timed out for every reader, sweeper or not, and stays so.
      // Their updatedAt moves too (as Prisma's @updatedAt would, from this process's clock):
      // a client polling runs by updatedSince must see the new expiry.
      const delta = flow.sessionTimeout - before.sessionTimeout;
      if (delta !== 0) {
        const now = tenant.clock.now();
        await tx.$executeRaw`
          UPDATE "FlowRun" SET "expiresAt" = ${expirySql(Prisma.sql`"expiresAt"`, Prisma.sql`${delta}::int`)}, "updatedAt" = ${now}::timestamptz
          WHERE "flowId" = ${id}::uuid AND "organizationId" = ${tenant.organizationId}::uuid AND ${liveSql(now)}`;
      }
      return flow;
    });
  } catch (error) {
    if (isRecordNotFound(error)) throw notFound('Flow');
    throw error;
  }
}

export async function deleteFlow(tenant: Tenant, id: string): Promise<void> {
  assertCanWrite(tenant);
  await deleteUnlessItHasRuns('Flow', () => tenant.db.flow.delete({ where: { id } }));
}
