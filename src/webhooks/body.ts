// What a webhook's body says of a run: the REST resource's id and attributes, with the
// REST surface's own timestamp format, so a receiver reads the same run either way.
import type { FlowRunSnapshot } from '../domain/flow-run-changes.js';
import { formatTimestamp } from '../rest/documents.js';

/** A run as a webhook's body shows it: the REST resource's id and attributes, in its order. */
export function renderFlowRun(snapshot: FlowRunSnapshot | Record<string, unknown>): Record<string, unknown> {
  const run = snapshot as Record<string, unknown>;
  return {
    id: run.id,
    createdAt: formatTimestamp(run.createdAt),
    updatedAt: formatTimestamp(run.updatedAt),
    flowId: run.flowId,
    messageThreadId: run.messageThreadId,
    state: run.state,
    initialMessage: run.initialMessage,
    status: run.status,
    cost: run.cost,
  };
}
