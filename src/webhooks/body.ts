// What a webhook's body says of a run: the REST resource's id and attributes, with the
// REST surface's own timestamp format, so a receiver reads the same run either way.
import { FLOW_RUN_SNAPSHOT_FIELDS, FLOW_RUN_SNAPSHOT_INSTANTS, type FlowRunSnapshot } from '../domain/flow-run-snapshot.js';
import { formatTimestamp } from '../rest/documents.js';

/** A run as a webhook's body shows it: the snapshot's fields, in their order (the REST resource's). */
export function renderFlowRun(snapshot: FlowRunSnapshot | Record<string, unknown>): Record<string, unknown> {
  const run = snapshot as Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const field of FLOW_RUN_SNAPSHOT_FIELDS) {
    body[field] = FLOW_RUN_SNAPSHOT_INSTANTS.has(field) ? formatTimestamp(run[field]) : run[field];
  }
  return body;
}
