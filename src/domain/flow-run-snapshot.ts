// The run as it travels outside a query: in a change's record, in the webhook outbox row
// and so in the webhook's body. One field list, in the REST resource's order (id, then
// its attributes: createdAt and updatedAt first), drives all of them; the REST resource
// derives its attributes from the GraphQL type, and test/webhooks/run-shape.test.ts holds
// the two to the same list.
import { Prisma } from '../database/generated/prisma/client.js';
import type { FlowRunStatus } from './flow-run-status.js';

export const FLOW_RUN_SNAPSHOT_FIELDS = [
  'id',
  'createdAt',
  'updatedAt',
  'flowId',
  'messageThreadId',
  'state',
  'initialMessage',
  'status',
  'cost',
] as const;

/** The fields that are instants: Date in the process, an ISO string once stored as JSON. */
export const FLOW_RUN_SNAPSHOT_INSTANTS: ReadonlySet<string> = new Set(['createdAt', 'updatedAt']);

export interface FlowRunSnapshot {
  id: string;
  createdAt: Date | string;
  updatedAt: Date | string;
  flowId: string;
  messageThreadId: string;
  state: unknown;
  initialMessage: unknown;
  status: FlowRunStatus;
  cost: number;
}

// The interface and the list must name the same fields: a field added to one only fails to compile.
type Listed = (typeof FLOW_RUN_SNAPSHOT_FIELDS)[number];
const sameFields: [Listed, keyof FlowRunSnapshot] extends [keyof FlowRunSnapshot, Listed] ? true : never = true;
void sameFields;

export function snapshotOf(run: FlowRunSnapshot): FlowRunSnapshot {
  const snapshot: Record<string, unknown> = {};
  for (const field of FLOW_RUN_SNAPSHOT_FIELDS) snapshot[field] = run[field];
  return snapshot as unknown as FlowRunSnapshot;
}

/** The snapshot built by SQL from the run's row `alias`, as the outbox stores it (jsonb). */
export const snapshotSql = (alias: string) =>
  Prisma.raw(`jsonb_build_object(${FLOW_RUN_SNAPSHOT_FIELDS.map((field) => `'${field}', ${alias}."${field}"`).join(', ')})`);
