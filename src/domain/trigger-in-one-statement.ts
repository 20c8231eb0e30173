// The common trigger — an opening message every channel accepts, an existing thread and
// flow, no running run past its expiry — as ONE SQL statement in autocommit: lock the
// thread, check the flow, insert running unless the thread has a running run, else
// queued. Anything else (a missing reference, an expired run to time out first) returns
// undefined, and the caller takes the full transactional path, which decides the same
// rules step by step and says what is wrong. Both paths apply the same rules; this one
// saves six round trips. Its webhook outbox rows are written by the same statement.
//
// With an idempotency key, the same statement claims the key once the thread is locked
// and the trigger is known to go ahead (so a failing trigger claims nothing), and inserts
// the run only if the claim is its own: a new key, or one past its 24 hours taken over.
// A live key of an earlier trigger is answered with that key's input hash and run, for
// the caller to replay or refuse; the statement then creates nothing.
import { randomUUID } from 'node:crypto';
import { type FlowRun, Prisma } from '../database/generated/prisma/client.js';
import { isUniqueViolation } from './database-errors.js';
import type { JsonObject } from './flow-run-input.js';
import { expiredSql, expirySql, idempotencyKeyExpiredSql, ONE_RUNNING_PER_THREAD } from './flow-run-queue.js';
import { snapshotSql } from './flow-run-snapshot.js';
import type { Tenant } from './tenant.js';
import type { PreparedTrigger } from './trigger-input.js';
import { eventTypeOf } from './webhook-events.js';

const TRIGGERED = eventTypeOf('triggered');
// The outbox row's copy of the run, built by SQL from the inserted row: the same text on every trigger.
const RUN_SNAPSHOT = snapshotSql('run');

/** The prepared trigger, with an opening message every channel accepts (`messageForEveryChannel`). */
type Trigger = Omit<PreparedTrigger, 'initialMessage'> & { initialMessage: JsonObject };

/**
 * What the statement did: created the run, or found the key claimed by an earlier trigger
 * still within its 24 hours (nothing created; `requestHash` and `flowRunId` are that
 * claim's). `undefined`: nothing done, the full path decides.
 */
export type OneStatementTrigger = { created: FlowRun } | { created?: undefined; keyClaimed: { requestHash: string; flowRunId: string } } | undefined;

type Row = Omit<FlowRun, 'status'> & { status: FlowRun['status'] };
type KeyedRow = Partial<Row> & { keyRequestHash: string; keyFlowRunId: string };

export async function triggerInOneStatement(tenant: Tenant, trigger: Trigger): Promise<OneStatementTrigger> {
  const { flowId, messageThreadId, now, idempotency } = trigger;
  const organizationId = tenant.organizationId;
  const id = randomUUID();
  const keyExpired = idempotencyKeyExpiredSql(now, '"IdempotentTrigger"');
  // The key's claim. ON CONFLICT waits for a concurrent claim of the same key to commit or
  // roll back and then sees the latest row, which the statement's snapshot may not: so a
  // live claim is "updated" to itself, and RETURNING hands back its current values. A
  // claim older than 24 hours is taken over, as if the key were absent. The claim is this
  // trigger's exactly when it names this trigger's new run.
  const claim = idempotency
    ? Prisma.sql`, claim AS (
        INSERT INTO "IdempotentTrigger" ("organizationId", "key", "requestHash", "flowRunId", "createdAt")
        SELECT ${organizationId}::uuid, ${idempotency.key}, ${idempotency.requestHash}, ${id}::uuid, ${now}::timestamptz
        FROM allowed
        ON CONFLICT ("organizationId", "key") DO UPDATE SET
          "requestHash" = CASE WHEN ${keyExpired}
                               THEN EXCLUDED."requestHash" ELSE "IdempotentTrigger"."requestHash" END,
          "flowRunId" = CASE WHEN ${keyExpired}
                             THEN EXCLUDED."flowRunId" ELSE "IdempotentTrigger"."flowRunId" END,
          "createdAt" = CASE WHEN ${keyExpired}
                             THEN EXCLUDED."createdAt" ELSE "IdempotentTrigger"."createdAt" END
        RETURNING "requestHash", "flowRunId"
      ), claimed AS (
        SELECT 1 FROM claim WHERE "flowRunId" = ${id}::uuid
      )`
    : Prisma.empty;
  const onlyIfClaimed = idempotency ? Prisma.sql`CROSS JOIN claimed` : Prisma.empty;
  const state = JSON.stringify(trigger.state);
  const message = JSON.stringify(trigger.initialMessage);
  // With a key, a row whenever the key was claimed or found claimed (the run's columns
  // null in the second case); no row when the trigger did not go ahead.
  const keyColumns = idempotency ? Prisma.sql`, claim."requestHash" AS "keyRequestHash", claim."flowRunId"::text AS "keyFlowRunId"` : Prisma.empty;
  const fromRun = idempotency ? Prisma.sql`claim LEFT JOIN run ON true` : Prisma.sql`run`;
  try {
    // Whether the new run runs or queues is NOT read from a CTE: under READ COMMITTED the
    // statement's snapshot was taken before it waited for the thread lock, and a run that
    // ended meanwhile still looks running there. The one-running-per-thread index is
    // checked against what is committed now, so the run is inserted as running unless
    // that index already holds one (ON CONFLICT), and only then as queued.
    const statement = Prisma.sql`
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
          WHERE "messageThreadId" = ${messageThreadId}::uuid AND ${expiredSql(now)}
        )
      )${claim}, started AS (
        INSERT INTO "FlowRun" ("id", "organizationId", "flowId", "messageThreadId", "state", "initialMessage", "status", "expiresAt")
        SELECT ${id}::uuid, ${organizationId}::uuid, ${flowId}::uuid, ${messageThreadId}::uuid, ${state}::jsonb, ${message}::jsonb,
               'running', ${expirySql(Prisma.sql`${now}::timestamptz`, Prisma.sql`allowed."sessionTimeout"`)}
        FROM allowed ${onlyIfClaimed}
        ON CONFLICT ${ONE_RUNNING_PER_THREAD} DO NOTHING
        RETURNING *
      ), queued AS (
        INSERT INTO "FlowRun" ("id", "organizationId", "flowId", "messageThreadId", "state", "initialMessage", "status", "expiresAt")
        SELECT ${id}::uuid, ${organizationId}::uuid, ${flowId}::uuid, ${messageThreadId}::uuid, ${state}::jsonb, ${message}::jsonb,
               'queued', NULL
        FROM allowed ${onlyIfClaimed} WHERE NOT EXISTS (SELECT 1 FROM started)
        RETURNING *
      ), run AS (
        SELECT * FROM started UNION ALL SELECT * FROM queued
      ), outbox AS (
        -- The webhook outbox (src/domain/webhook-events.ts), in this same statement: a row
        -- per enabled endpoint subscribed to the event, none when the organization has none.
        INSERT INTO "WebhookDelivery" ("id", "organizationId", "endpointId", "eventType", "flowRunId", "flowRun", "occurredAt")
        SELECT gen_random_uuid(), endpoint."organizationId", endpoint.id, ${TRIGGERED}, run.id,
               ${RUN_SNAPSHOT},
               ${now}::timestamptz
        FROM run JOIN "WebhookEndpoint" AS endpoint
          ON endpoint."organizationId" = ${organizationId}::uuid AND endpoint.enabled AND ${TRIGGERED} = ANY (endpoint.events)
      )
      SELECT ${RUN_SELECT}${keyColumns}
      FROM ${fromRun}`;
    const rows = (await tenant.statement(statement.text, statement.values)).map((values) => rowOf(values, idempotency !== undefined));
    const [row] = rows;
    if (!row) return undefined;
    if (!idempotency) return { created: row as Row };
    const { keyRequestHash, keyFlowRunId, ...run } = row as KeyedRow;
    if (keyFlowRunId === id) return { created: run as Row };
    return { keyClaimed: { requestHash: keyRequestHash, flowRunId: keyFlowRunId } };
  } catch (error) {
    // Not expected (the index is the arbiter above), but the full path decides it safely.
    // The statement rolled back whole: the key is not claimed either.
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
}

// The run's columns as Prisma's schema lists them: the same list the compiled reads use.
const RUN_COLUMNS = Object.values(Prisma.FlowRunScalarFieldEnum);
// Both drivers give these as text only when asked to (uuid and the status enum).
const AS_TEXT = new Set<string>(['id', 'organizationId', 'flowId', 'messageThreadId', 'status']);
const RUN_SELECT = Prisma.raw(RUN_COLUMNS.map((column) => (AS_TEXT.has(column) ? `"${column}"::text` : `"${column}"`)).join(', '));

/**
 * The statement's row as Prisma's raw query returns it: its columns by name, in the order
 * the final SELECT lists them, `sequence` a BigInt (the drivers give int8 as text).
 */
function rowOf(values: unknown[], keyed: boolean): Row | KeyedRow {
  const row: Record<string, unknown> = {};
  RUN_COLUMNS.forEach((column, index) => {
    row[column] = values[index];
  });
  if (row.sequence != null) row.sequence = BigInt(row.sequence as string | number | bigint);
  if (keyed) {
    row.keyRequestHash = values[RUN_COLUMNS.length];
    row.keyFlowRunId = values[RUN_COLUMNS.length + 1];
  }
  return row as Row | KeyedRow;
}
