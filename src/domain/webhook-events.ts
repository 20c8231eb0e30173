// The events a webhook endpoint may subscribe to, and the outbox: every change to a run
// writes one delivery row per subscribed endpoint IN THE TRANSACTION OF THE CHANGE, so a
// rolled-back change sends nothing and a committed one is never lost (a worker delivers
// the rows later, src/jobs/webhook-worker.ts). The one-statement trigger writes its row
// in its own statement (src/domain/trigger-in-one-statement.ts).
import type { FlowRunChange, FlowRunChangeKind } from './flow-run-changes.js';

export const WEBHOOK_EVENT_TYPES = [
  'flowRun.triggered',
  'flowRun.updated',
  'flowRun.promoted',
  'flowRun.timedOut',
  'flowRun.deleted',
] as const satisfies readonly `flowRun.${FlowRunChangeKind}`[];
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const eventTypeOf = (kind: FlowRunChangeKind): WebhookEventType => `flowRun.${kind}`;

/** Where the outbox rows go: raw SQL on the transaction of the change. */
interface Executor {
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): Promise<number>;
}

/**
 * Writes the outbox rows of `changes` (in their order) for every enabled endpoint of the
 * run's organization subscribed to the event. One statement; it inserts nothing when the
 * organization has no such endpoint. Call it inside the transaction that made the changes.
 */
export async function recordWebhookEvents(tx: Executor, changes: readonly FlowRunChange[]): Promise<void> {
  const events = changes
    .filter((change) => change.run)
    .map((change, position) => ({
      position,
      organizationId: change.organizationId,
      type: eventTypeOf(change.kind),
      flowRunId: change.flowRunId,
      flowRun: change.run,
      at: change.at,
    }));
  if (!events.length) return;
  await tx.$executeRaw`
    INSERT INTO "WebhookDelivery" ("id", "organizationId", "endpointId", "eventType", "flowRunId", "flowRun", "occurredAt")
    SELECT gen_random_uuid(), endpoint."organizationId", endpoint.id, event.type, event."flowRunId", event."flowRun", event.at
    FROM jsonb_to_recordset(${JSON.stringify(events)}::jsonb)
      AS event(position int, "organizationId" uuid, type text, "flowRunId" uuid, "flowRun" jsonb, at timestamptz)
    JOIN "WebhookEndpoint" AS endpoint
      ON endpoint."organizationId" = event."organizationId" AND endpoint.enabled AND event.type = ANY (endpoint.events)
    ORDER BY event.position, endpoint.id`;
}
