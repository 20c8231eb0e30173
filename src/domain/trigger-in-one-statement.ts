// The common trigger — no idempotency key, an opening message every channel accepts,
// an existing thread and flow, no running run past its expiry — as ONE SQL statement in
// autocommit: lock the thread, check the flow, look for a running run, insert queued or
// running. Anything else (a missing reference, an expired run to time out first, a race
// that the partial unique index refused) returns undefined, and the caller takes the
// full transactional path, which decides the same rules step by step and says what is
// wrong. Both paths apply the same rules; this one saves six round trips.
import { randomUUID } from 'node:crypto';
import type { FlowRun } from '../database/generated/prisma/client.js';
import { isUniqueViolation } from './database-errors.js';
import type { JsonObject } from './flow-run-input.js';
import type { Tenant } from './tenant.js';

interface Trigger {
  flowId: string;
  messageThreadId: string;
  state: JsonObject;
  initialMessage: JsonObject;
  now: Date;
}

type Row = Omit<FlowRun, 'status'> & { status: FlowRun['status'] };

export async function triggerInOneStatement(tenant: Tenant, trigger: Trigger): Promise<FlowRun | undefined> {
  const { flowId, messageThreadId, now } = trigger;
  const organizationId = tenant.organizationId;
  try {
    const rows = await tenant.db.$queryRaw<Row[]>`
      WITH thread AS (
        SELECT id FROM "MessageThread"
        WHERE id = ${messageThreadId}::uuid AND "organizationId" = ${organizationId}::uuid
        FOR UPDATE
      ), flow AS (
        SELECT "sessionTimeout" FROM "Flow" WHERE id = ${flowId}::uuid AND "organizationId" = ${organizationId}::uuid
      ), running AS (
        SELECT "expiresAt" FROM "FlowRun" WHERE "messageThreadId" = ${messageThreadId}::uuid AND status = 'running'
      )
      INSERT INTO "FlowRun" ("id", "organizationId", "flowId", "messageThreadId", "state", "initialMessage", "status", "expiresAt")
      SELECT ${randomUUID()}::uuid, ${organizationId}::uuid, ${flowId}::uuid, ${messageThreadId}::uuid,
             ${JSON.stringify(trigger.state)}::jsonb, ${JSON.stringify(trigger.initialMessage)}::jsonb,
             CASE WHEN EXISTS (SELECT 1 FROM running) THEN 'queued' ELSE 'running' END::"FlowRunStatus",
             CASE WHEN EXISTS (SELECT 1 FROM running) THEN NULL
                  ELSE ${now}::timestamptz + make_interval(mins => flow."sessionTimeout") END
      FROM thread, flow
      WHERE NOT EXISTS (SELECT 1 FROM running WHERE "expiresAt" <= ${now}::timestamptz)
      RETURNING "id"::text, "organizationId"::text, "flowId"::text, "messageThreadId"::text, "state", "initialMessage",
                "status"::text, "cost", "sequence", "expiresAt", "createdAt", "updatedAt"`;
    return rows[0];
  } catch (error) {
    // Another trigger made a run of this thread running first: queue through the full path.
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
}
