// The common trigger — no idempotency key, an opening message every channel accepts,
// an existing thread and flow, no running run past its expiry — as ONE SQL statement in
// autocommit: lock the thread, check the flow, insert running unless the thread has a
// running run, else queued. Anything else (a missing reference, an expired run to time
// out first) returns undefined, and the caller takes the full transactional path, which
// decides the same rules step by step and says what is wrong. Both paths apply the same
// rules; this one saves six round trips. Its webhook outbox rows are written by the same
// statement.
import { randomUUID } from 'node:crypto';
import type { FlowRun } from '../database/generated/prisma/client.js';
import { isUniqueViolation } from './database-errors.js';
import type { JsonObject } from './flow-run-input.js';
import type { Tenant } from './tenant.js';
import { eventTypeOf } from './webhook-events.js';

const TRIGGERED = eventTypeOf('triggered');

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
  const id = randomUUID();
  const state = JSON.stringify(trigger.state);
  const message = JSON.stringify(trigger.initialMessage);
  try {
    // Whether the new run runs or queues is NOT read from a CTE: under READ COMMITTED the
    // statement's snapshot was taken before it waited for the thread lock, and a run that
    // ended meanwhile still looks running there. The one-running-per-thread index is
    // checked against what is committed now, so the run is inserted as running unless
    // that index already holds one (ON CONFLICT), and only then as queued.
    const rows = await tenant.db.$queryRaw<Row[]>`
      WITH thread AS (
        SELECT id FROM "MessageThread"
        WHERE id = ${messageThreadId}::uuid AND "organizationId" = ${organizationId}::uuid
        FOR UPDATE
      ), flow AS (
        SELECT "sessionTimeout" FROM "Flow" WHERE id = ${flowId}::uuid AND "organizationId" = ${organizationId}::uuid
      ), allowed AS (
        -- A running run past its expiry must be timed out first: the full path does that.
        SELECT flow."sessionTimeout" FROM thread, flow
        WHERE NOT EXISTS (
          SELECT 1 FROM "FlowRun"
          WHERE "messageThreadId" = ${messageThreadId}::uuid AND status = 'running' AND "expiresAt" <= ${now}::timestamptz
        )
      ), started AS (
        INSERT INTO "FlowRun" ("id", "organizationId", "flowId", "messageThreadId", "state", "initialMessage", "status", "expiresAt")
        SELECT ${id}::uuid, ${organizationId}::uuid, ${flowId}::uuid, ${messageThreadId}::uuid, ${state}::jsonb, ${message}::jsonb,
               'running', ${now}::timestamptz + make_interval(mins => allowed."sessionTimeout")
        FROM allowed
        ON CONFLICT ("messageThreadId") WHERE status = 'running' DO NOTHING
        RETURNING *
      ), queued AS (
        INSERT INTO "FlowRun" ("id", "organizationId", "flowId", "messageThreadId", "state", "initialMessage", "status", "expiresAt")
        SELECT ${id}::uuid, ${organizationId}::uuid, ${flowId}::uuid, ${messageThreadId}::uuid, ${state}::jsonb, ${message}::jsonb,
               'queued', NULL
        FROM allowed WHERE NOT EXISTS (SELECT 1 FROM started)
        RETURNING *
      ), run AS (
        SELECT * FROM started UNION ALL SELECT * FROM queued
      ), outbox AS (
        -- The webhook outbox (src/domain/webhook-events.ts), in this same statement: a row
        -- per enabled endpoint subscribed to the event, none when the organization has none.
        INSERT INTO "WebhookDelivery" ("id", "organizationId", "endpointId", "eventType", "flowRunId", "flowRun", "occurredAt")
        SELECT gen_random_uuid(), endpoint."organizationId", endpoint.id, ${TRIGGERED}, run.id,
               jsonb_build_object('id', run.id, 'flowId', run."flowId", 'messageThreadId', run."messageThreadId",
                 'state', run.state, 'initialMessage', run."initialMessage", 'status', run.status, 'cost', run.cost,
                 'createdAt', run."createdAt", 'updatedAt', run."updatedAt"),
               ${now}::timestamptz
        FROM run JOIN "WebhookEndpoint" AS endpoint
          ON endpoint."organizationId" = ${organizationId}::uuid AND endpoint.enabled AND ${TRIGGERED} = ANY (endpoint.events)
      )
      SELECT "id"::text, "organizationId"::text, "flowId"::text, "messageThreadId"::text, "state", "initialMessage",
             "status"::text, "cost", "sequence", "expiresAt", "createdAt", "updatedAt"
      FROM run`;
    return rows[0];
  } catch (error) {
    // Not expected (the index is the arbiter above), but the full path decides it safely.
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
}
