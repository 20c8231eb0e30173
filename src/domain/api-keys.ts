// API keys over their life: created (the key shown once, only its hash stored), listed
// (never the key or its hash), revoked, and rotated (a successor now, the old key refused
// once an overlap has passed). Every change is recorded in the audit log in its own
// transaction. Running instances remember valid keys for a while: telling them a key is
// gone is the caller's part (see src/events/api-key-revocations.ts).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { PrismaClient } from '../database/generated/prisma/client.js';
import { recordAuditEvent } from './audit-log.js';
import { DomainError } from './errors.js';
import { type Clock, systemClock } from './flow-run-changes.js';
import { checkedName } from './names.js';
import type { Access } from './tenant.js';
import { TRANSACTION_OPTIONS } from './transactions.js';

const KEY_PREFIX = 'frg_';
const MAX_NAME_LENGTH = 100;

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** What may be shown of a key: everything but the key and its hash. */
export interface ApiKeySummary {
  id: string;
  organizationId: string;
  name: string | null;
  access: Access;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

const SUMMARY = {
  id: true,
  organizationId: true,
  name: true,
  scope: true,
  createdAt: true,
  lastUsedAt: true,
  expiresAt: true,
  revokedAt: true,
} as const;

type SummaryRow = Omit<ApiKeySummary, 'access'> & { scope: Access };
const summaryOf = ({ scope, ...row }: SummaryRow): ApiKeySummary => ({ ...row, access: scope });

export interface NewApiKey {
  organizationId: string;
  access: Access;
  name?: string;
  /** Refused from then on; none means until revoked. */
  expiresAt?: Date;
  /** Who asks, for the audit log (`cliActor(...)`, or `system` for keys the service makes itself). */
  actor: string;
}

const keyName = (name: string | undefined): string | null => (name === undefined ? null : checkedName(name, MAX_NAME_LENGTH));

type Transaction = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

async function insertKey(tx: Transaction, input: Omit<NewApiKey, 'name'> & { name: string | null }, details: Record<string, string>) {
  const key = KEY_PREFIX + randomBytes(24).toString('base64url');
  const row = await tx.apiKey.create({
    data: {
      id: randomUUID(),
      organizationId: input.organizationId,
      hash: hashApiKey(key),
      scope: input.access,
      name: input.name,
      expiresAt: input.expiresAt ?? null,
    },
    select: SUMMARY,
  });
  await recordAuditEvent(tx, {
    organizationId: input.organizationId,
    actor: input.actor,
    action: 'apiKey.created',
    subjectType: 'apiKey',
    subjectId: row.id,
    details: {
      name: row.name,
      access: row.scope,
      expiresAt: row.expiresAt?.toISOString() ?? null,
      ...details,
    },
  });
  return { key, apiKey: summaryOf(row) };
}

/** Creates a key; the returned `key` is the only time it is ever seen. */
export async function issueApiKey(
  prisma: PrismaClient,
  input: NewApiKey,
  clock: Clock = systemClock,
): Promise<{ key: string; apiKey: ApiKeySummary }> {
  const name = keyName(input.name);
  if (input.expiresAt && !(input.expiresAt > clock.now())) {
    throw new DomainError('VALIDATION_FAILED', 'expiresAt: must be in the future', ['expiresAt']);
  }
  return prisma.$transaction(async (tx) => {
    const organization = await tx.organization.findUnique({ where: { id: input.organizationId }, select: { id: true } });
    if (!organization) {
      throw new DomainError('REFERENCED_RESOURCE_NOT_FOUND', `organization ${input.organizationId} not found`, ['org']);
    }
    return insertKey(tx, { ...input, name }, {});
  }, TRANSACTION_OPTIONS);
}

/** An organization's keys, oldest first, revoked and expired ones included. */
export async function listApiKeys(prisma: PrismaClient, organizationId: string): Promise<ApiKeySummary[]> {
  const organization = await prisma.organization.findUnique({ where: { id: organizationId }, select: { id: true } });
  if (!organization) throw new DomainError('NOT_FOUND', `organization ${organizationId} not found`);
  const rows = await prisma.apiKey.findMany({ where: { organizationId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: SUMMARY });
  return rows.map(summaryOf);
}

/**
 * Of the given keys, those that can still be used at `now`, with when each expires (null:
 * not before it is revoked). Revoked, expired and deleted keys are left out.
 */
export async function usableApiKeys(prisma: PrismaClient, keyIds: readonly string[], now: Date): Promise<Map<string, Date | null>> {
  const rows = await prisma.apiKey.findMany({
    where: { id: { in: [...keyIds] }, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    select: { id: true, expiresAt: true },
  });
  return new Map(rows.map((row) => [row.id, row.expiresAt]));
}

/** Why a key cannot be revoked or rotated: it does not exist, or is no longer usable. */
function unusable(keyId: string, row: SummaryRow | null, now: Date): DomainError | undefined {
  if (!row) return new DomainError('NOT_FOUND', `API key ${keyId} not found`);
  if (row.revokedAt) {
    return new DomainError('VALIDATION_FAILED', `API key ${keyId} was already revoked at ${row.revokedAt.toISOString()}`, ['key']);
  }
  if (row.expiresAt && row.expiresAt <= now) {
    return new DomainError('VALIDATION_FAILED', `API key ${keyId} already expired at ${row.expiresAt.toISOString()}`, ['key']);
  }
  return undefined;
}

/** The key, locked until the transaction ends, if it can still be used at `now`. */
async function lockUsableKey(tx: Transaction, keyId: string, now: Date): Promise<SummaryRow> {
  // Two operators rotating one key at once go one after the other: the second sees what
  // the first did.
  await tx.$queryRaw`SELECT 1 FROM "ApiKey" WHERE "id" = ${keyId}::uuid FOR UPDATE`;
  const row = await tx.apiKey.findUnique({ where: { id: keyId }, select: SUMMARY });
  const error = unusable(keyId, row, now);
  if (error || !row) throw error;
  return row;
}

/** Refuses the key from now on. A key already revoked or expired is an error: nothing changes. */
export async function revokeApiKey(prisma: PrismaClient, keyId: string, actor: string, clock: Clock = systemClock): Promise<ApiKeySummary> {
  const now = clock.now();
  const revoked = await prisma.$transaction(async (tx) => {
    // One statement that revokes only a usable key: of two operators revoking it at once,
    // the second waits for the first's row lock, then finds it revoked and changes nothing.
    // Short, so that the key is refused everywhere as soon after `now` as can be.
    const [row] = await tx.apiKey.updateManyAndReturn({
      where: { id: keyId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
      data: { revokedAt: now },
      select: SUMMARY,
    });
    if (row) {
      await recordAuditEvent(tx, {
        organizationId: row.organizationId,
        actor,
        action: 'apiKey.revoked',
        subjectType: 'apiKey',
        subjectId: keyId,
        details: { name: row.name },
      });
    }
    return row;
  }, TRANSACTION_OPTIONS);
  if (revoked) return summaryOf(revoked);
  throw (
    unusable(keyId, await prisma.apiKey.findUnique({ where: { id: keyId }, select: SUMMARY }), now) ??
    new DomainError('CONCURRENT_CHANGE', `API key ${keyId} changed while it was being revoked; try again`)
  );
}

export interface Rotation {
  /** How long the old key keeps working, in milliseconds; 0 = it stops now. */
  overlapMs: number;
  /** When the new key expires; none means until revoked. */
  expiresAt?: Date;
  actor: string;
}

/**
 * A new key with the old one's organization, access and name; the old key expires at the
 * end of the overlap (or keeps an earlier expiry it already had).
 */
export async function rotateApiKey(
  prisma: PrismaClient,
  keyId: string,
  rotation: Rotation,
  clock: Clock = systemClock,
): Promise<{ key: string; apiKey: ApiKeySummary; replaced: ApiKeySummary }> {
  if (!Number.isInteger(rotation.overlapMs) || rotation.overlapMs < 0) {
    throw new DomainError('VALIDATION_FAILED', 'overlap: must be zero or more milliseconds', ['overlap']);
  }
  if (rotation.expiresAt && !(rotation.expiresAt > clock.now())) {
    throw new DomainError('VALIDATION_FAILED', 'expiresAt: must be in the future', ['expiresAt']);
  }
  return prisma.$transaction(async (tx) => {
    const now = clock.now();
    const old = await lockUsableKey(tx, keyId, now);
    const overlapEnd = new Date(now.getTime() + rotation.overlapMs);
    const oldExpiresAt = old.expiresAt && old.expiresAt < overlapEnd ? old.expiresAt : overlapEnd;
    const successor = await insertKey(
      tx,
      { organizationId: old.organizationId, access: old.scope, name: old.name, expiresAt: rotation.expiresAt, actor: rotation.actor },
      { rotatedFrom: keyId },
    );
    const replaced = await tx.apiKey.update({ where: { id: keyId }, data: { expiresAt: oldExpiresAt }, select: SUMMARY });
    await recordAuditEvent(tx, {
      organizationId: old.organizationId,
      actor: rotation.actor,
      action: 'apiKey.rotated',
      subjectType: 'apiKey',
      subjectId: keyId,
      details: { name: old.name, replacedBy: successor.apiKey.id, expiresAt: oldExpiresAt.toISOString() },
    });
    return { ...successor, replaced: summaryOf(replaced) };
  }, TRANSACTION_OPTIONS);
}
