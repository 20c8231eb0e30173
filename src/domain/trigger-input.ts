// A trigger's input, checked once before either way of triggering runs (src/domain/flow-runs.ts):
// the references, the state, the opening message's depth and the idempotency key with the
// hash of the input it stands for.
import { z } from 'zod';
import { assertStorableJson, type JsonObject, parseState } from './flow-run-input.js';
import { parseIdempotencyKey, requestHashOf } from './idempotent-triggers.js';
import type { Tenant } from './tenant.js';
import { parseInput } from './validation.js';

export interface TriggerFlowRunInput {
  flowId: string;
  messageThreadId: string;
  state?: unknown;
  initialMessage?: unknown;
  /**
   * For 24 hours, a retry with the same key and the same input gets the run the first
   * request created (replayed) instead of a new one; a different input is refused.
   */
  idempotencyKey?: string | null;
}

const referencesSchema = z.object({
  flowId: z.uuid('must be a UUID'),
  messageThreadId: z.uuid('must be a UUID'),
});

/** A trigger's input once checked: what both ways of triggering take. */
export interface PreparedTrigger {
  flowId: string;
  messageThreadId: string;
  state: JsonObject;
  /** As sent: its rules depend on the thread's channel, read under the thread's lock. */
  initialMessage: unknown;
  now: Date;
  idempotency?: { key: string; requestHash: string };
}

export function prepareTrigger(tenant: Tenant, input: TriggerFlowRunInput): PreparedTrigger {
  const { flowId, messageThreadId } = parseInput(referencesSchema, input);
  const state = parseState(input.state);
  // The message's other rules wait for the thread's channel, but hashing it for the
  // idempotency key recurses through it: its depth is judged now.
  assertStorableJson(input.initialMessage, ['initialMessage']);
  const idempotencyKey = parseIdempotencyKey(input.idempotencyKey);
  // An absent message hashes as null, so that a retry that sends `null` is the same request.
  const hashedMessage = input.initialMessage ?? null;
  return {
    flowId,
    messageThreadId,
    state,
    initialMessage: input.initialMessage,
    now: tenant.clock.now(),
    ...(idempotencyKey !== undefined && {
      idempotency: { key: idempotencyKey, requestHash: requestHashOf({ flowId, messageThreadId, state, initialMessage: hashedMessage }) },
    }),
  };
}
