// The status machine of a flow run (docs/API.md, "The run's status").
import { DomainError } from './errors.js';

export const FLOW_RUN_STATUSES = ['queued', 'running', 'finished', 'timeout', 'cancelled', 'exception'] as const;
export type FlowRunStatus = (typeof FLOW_RUN_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<FlowRunStatus> = new Set(['finished', 'timeout', 'cancelled', 'exception']);

export const isTerminal = (status: FlowRunStatus) => TERMINAL_STATUSES.has(status);

/** A status a client may ask for; the others are reached only by the rules below. */
export function assertSettableStatus(requested: FlowRunStatus): void {
  if (!isTerminal(requested)) {
    throw new DomainError(
      'STATUS_NOT_SETTABLE',
      `status can only be set to one of ${[...TERMINAL_STATUSES].join(', ')}; "${requested}" is reached by the queue`,
      ['status'],
    );
  }
}

/**
 * Whether moving from `current` to the terminal `requested` changes anything. Ending a
 * run that already ended is refused, except asking for the status it already has.
 */
export function statusChange(current: FlowRunStatus, requested: FlowRunStatus): 'change' | 'unchanged' {
  assertSettableStatus(requested);
  if (current === requested) return 'unchanged';
  if (isTerminal(current)) {
    throw new DomainError('RUN_ALREADY_ENDED', `the flow run has already ended with status "${current}"`, ['status']);
  }
  return 'change';
}
