// What the domain announces when a flow run changes. The domain calls the publisher only
// after its transaction has committed, so a subscriber never hears of a change that was
// rolled back. How announcements travel (in-process, Redis) is not the domain's concern.
import { type FlowRunSnapshot, snapshotOf } from './flow-run-snapshot.js';
import type { FlowRunStatus } from './flow-run-status.js';

export type { FlowRunSnapshot };

export type FlowRunChangeKind = 'triggered' | 'updated' | 'promoted' | 'timedOut' | 'deleted';

export interface FlowRunChange {
  kind: FlowRunChangeKind;
  organizationId: string;
  flowRunId: string;
  messageThreadId: string;
  /** The status after the change; null once the run is deleted. */
  status: FlowRunStatus | null;
  at: string;
  /**
   * The run as the change left it (as it was, for a deletion), for the webhook outbox
   * (src/domain/webhook-events.ts). Not announced to subscribers.
   */
  run?: FlowRunSnapshot;
}

/** The change `kind` made to `run` at `now`; `status` is null for a deletion. */
export function changeOf(
  kind: FlowRunChangeKind,
  run: FlowRunSnapshot & { organizationId: string },
  now: Date,
  status: FlowRunStatus | null = run.status,
): FlowRunChange {
  return {
    kind,
    organizationId: run.organizationId,
    flowRunId: run.id,
    messageThreadId: run.messageThreadId,
    status,
    at: now.toISOString(),
    run: snapshotOf(run),
  };
}

export interface FlowRunChangePublisher {
  publish(changes: readonly FlowRunChange[]): void;
}

export const discardChanges: FlowRunChangePublisher = { publish() {} };

/** Time as the domain sees it; tests move it instead of sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
