// Idempotent triggers (docs/API.md, "Idempotent triggers"): for 24 hours an idempotency key names at most one run
// of its organization. A trigger may send a paid WhatsApp template, so a retried request
// must find the run it created instead of creating (and messaging) a second one.
//
// The key is claimed by the statement or transaction that creates the run, once the
// thread is locked (both trigger paths take the thread first, then the key, so they cannot
// deadlock), with one INSERT ... ON CONFLICT on the (organization, key) primary key. A
// concurrent retry blocks on that key until the first trigger commits: if it committed,
// the retry sees the claim (and replays the run, or is refused when the input differs);
// if it rolled back, the retry claims the key itself. Expired keys are taken over by the
// same statement. The common first use is part of the one-statement trigger
// (trigger-in-one-statement.ts); `claimIdempotencyKey` is the full transaction's claim.
import { createHash } from 'node:crypto';
import type { PrismaClient } from '../database/generated/prisma/client.js';
import type { TenantTransaction } from '../database/tenant.js';
import { DomainError } from './errors.js';
import type { Clock } from './flow-run-changes.js';
import { idempotencyKeyExpiredSql, idempotencyKeyExpiredWhere } from './flow-run-queue.js';

const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** A key is 1..255 printable ASCII characters; `undefined`/`null` means "no key". */
export function parseIdempotencyKey(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !KEY_PATTERN.test(value)) {
    throw new DomainError('VALIDATION_FAILED', 'idempotencyKey: must be 1 to 255 printable ASCII characters', ['idempotencyKey']);
  }
  return value;
}

/** JSON with object keys sorted at every level, so that equal inputs hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, member]) => `${JSON.stringify(name)}:${canonicalJson(member)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The fingerprint of a trigger's input: what "the same body" means for a retry. */
export const requestHashOf = (input: Record<string, unknown>) => createHash('sha256').update(canonicalJson(input)).digest('hex');

/** The key is live and was claimed by a trigger with another input. */
export const idempotencyKeyReused = () =>
  new DomainError(
    'IDEMPOTENCY_KEY_REUSED',
    'this idempotency key was used with a different request in the last 24 hours; use a new key for a new trigger',
    ['idempotencyKey'],
  );

export type KeyClaim = { claimed: true } | { claimed: false; flowRunId: string };

/**
 * Claims `key` for the run `flowRunId` about to be created in this transaction. Returns
 * `{ claimed: false, flowRunId }` when a live claim with the same input exists (a retry),
 * and throws IDEMPOTENCY_KEY_REUSED when its input differs.
 */
export async function claimIdempotencyKey(
  tx: TenantTransaction,
  claim: { organizationId: string; key: string; requestHash: string; flowRunId: string; now: Date },
): Promise<KeyClaim> {
  const now = claim.now.toISOString();
  // A key older than 24 hours no longer counts: it is taken over as if absent. When the
  // WHERE refuses the update, the conflicting row is still locked until this transaction ends.
  const inserted = await tx.$queryRaw<{ flowRunId: string }[]>`
    INSERT INTO "IdempotentTrigger" ("organizationId", "key", "requestHash", "flowRunId", "createdAt")
    VALUES (${claim.organizationId}::uuid, ${claim.key}, ${claim.requestHash}, ${claim.flowRunId}::uuid, ${now}::timestamptz)
    ON CONFLICT ("organizationId", "key") DO UPDATE
      SET "requestHash" = EXCLUDED."requestHash", "flowRunId" = EXCLUDED."flowRunId", "createdAt" = EXCLUDED."createdAt"
      WHERE ${idempotencyKeyExpiredSql(claim.now, '"IdempotentTrigger"')}
    RETURNING "flowRunId"::text AS "flowRunId"`;
  if (inserted.length) return { claimed: true };

  const [existing] = await tx.$queryRaw<{ requestHash: string; flowRunId: string }[]>`
    SELECT "requestHash", "flowRunId"::text AS "flowRunId" FROM "IdempotentTrigger"
    WHERE "organizationId" = ${claim.organizationId}::uuid AND "key" = ${claim.key}`;
  if (!existing) {
    // Unreachable: the conflicting row is locked by this transaction and cannot go away.
    throw new DomainError('CONCURRENT_CHANGE', 'the idempotency key changed while the run was being triggered; retry');
  }
  if (existing.requestHash !== claim.requestHash) throw idempotencyKeyReused();
  return { claimed: false, flowRunId: existing.flowRunId };
}

/**
 * Deletes the keys that no longer count (every organization). Only housekeeping: an
 * expired key is already treated as absent by `claimIdempotencyKey`.
 */
export async function forgetExpiredIdempotencyKeys(prisma: PrismaClient, { clock }: { clock: Clock }): Promise<number> {
  const { count } = await prisma.idempotentTrigger.deleteMany({ where: idempotencyKeyExpiredWhere(clock.now()) });
  return count;
}
