// Organizations (tenants), and who a presented API key acts for. Keys are random, shown
// once, and stored only as a SHA-256 hash: a leaked database does not leak working keys.
// Their life (create, list, revoke, rotate) is in api-keys.ts.
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../database/generated/prisma/client.js';
import { LRUCache } from 'lru-cache';
import { flowRunReads } from '../database/flow-run-reads.js';
import { rowReaderOf } from '../database/row-reader.js';
import { scopeToOrganization } from '../database/tenant.js';
import { hashApiKey, issueApiKey } from './api-keys.js';
import { DomainError } from './errors.js';
import { checkedName } from './names.js';
import { type Access, type DomainServices, defaultServices, type Tenant } from './tenant.js';

export { hashApiKey };

const MAX_NAME_LENGTH = 200;

export async function createOrganization(prisma: PrismaClient, name: string) {
  return prisma.organization.create({ data: { id: randomUUID(), name: checkedName(name, MAX_NAME_LENGTH) } });
}

/**
 * A key the service makes for itself (the demo organization, the benchmark's dataset,
 * tests): recorded in the audit log as made by `system`. Returns the key in clear.
 */
export async function createApiKey(prisma: PrismaClient, organizationId: string, access: Access): Promise<string> {
  return (await issueApiKey(prisma, { organizationId, access, actor: 'system' })).key;
}

const refused = () => new DomainError('UNAUTHENTICATED', 'the API key is not valid');

/**
 * The tenant a presented key acts for, or an UNAUTHENTICATED error. A revoked or expired
 * key is refused exactly like one that never existed: nothing tells them apart.
 */
export async function authenticate(
  prisma: PrismaClient,
  presentedKey: string | undefined,
  services: DomainServices = defaultServices,
): Promise<Tenant> {
  if (!presentedKey) {
    throw new DomainError('UNAUTHENTICATED', 'an API key is required in the Authorization header');
  }
  const caches = keyCachesOf(prisma);
  const hash = hashApiKey(presentedKey);
  const now = services.clock.now().getTime();
  let known = caches.known.get(hash);
  if (known && known.expiresAt !== null && known.expiresAt <= now) {
    caches.known.delete(hash);
    known = undefined;
    caches.unknown.set(hash, true);
    throw refused();
  }
  if (!known) {
    if (caches.unknown.has(hash)) throw refused();
    const apiKey = await prisma.apiKey.findUnique({
      where: { hash },
      select: { id: true, organizationId: true, scope: true, expiresAt: true, revokedAt: true },
    });
    if (!apiKey || apiKey.revokedAt || (apiKey.expiresAt && apiKey.expiresAt.getTime() <= now)) {
      caches.unknown.set(hash, true);
      throw refused();
    }
    known = {
      tenant: {
        organizationId: apiKey.organizationId,
        apiKeyId: apiKey.id,
        apiKeyExpiresAt: apiKey.expiresAt,
        access: apiKey.scope,
        ...scopedClientOf(prisma, apiKey.organizationId),
      },
      expiresAt: apiKey.expiresAt?.getTime() ?? null,
    };
    caches.known.set(hash, known);
  }
  await noteUse(prisma, caches, known.tenant.apiKeyId, now);
  return { ...services, ...known.tenant };
}

// Every request presents its key: remembering valid keys for a while saves a query per
// request. A key revoked (or rotated out) elsewhere is forgotten at once when the instance
// is told (forgetApiKeys, through Redis), else when its entry ages out after the cache's
// TTL. An expiry is checked on every use, so it needs no telling.
export const DEFAULT_KEY_CACHE_TTL_MS = 30_000;
// Unknown keys are remembered too, briefly: a client retrying a wrong key in a loop costs
// a look-up per UNKNOWN_KEY_TTL_MS, not one per request. Keys are random and shown once,
// so none is presented before it exists. Bounded, so that random keys only push older
// entries out.
const UNKNOWN_KEY_TTL_MS = 30_000;
// lastUsedAt is coarse on purpose: writing it on every request would turn each read into
// an UPDATE of one hot row per key (row locks between a key's concurrent requests, a new
// row version and WAL for each). Once a minute per key and instance answers "is this key
// still in use?" just as well.
const LAST_USED_RESOLUTION_MS = 60_000;

type KnownKey = { tenant: Omit<Tenant, keyof DomainServices>; expiresAt: number | null };
interface KeyCaches {
  known: LRUCache<string, KnownKey>;
  unknown: LRUCache<string, true>;
  /** Keys whose lastUsedAt this instance wrote within the last LAST_USED_RESOLUTION_MS. */
  noted: LRUCache<string, true>;
}
const keyCaches = new WeakMap<PrismaClient, KeyCaches>();
type ScopedClient = Pick<Tenant, 'db' | 'reads' | 'statement'>;
const scopedClients = new WeakMap<PrismaClient, LRUCache<string, ScopedClient>>();
/**
 * Organizations whose scoped client is kept, the most recently authenticated. One pushed
 * out is built again on its next authentication (its keys remembered meanwhile keep theirs).
 */
export const SCOPED_CLIENTS_PER_DATABASE = 1_000;

/** How many organizations' scoped clients are kept for this database (tests). */
export function scopedClientCount(prisma: PrismaClient): number {
  return scopedClients.get(prisma)?.size ?? 0;
}

/**
 * Sets how long this database's valid keys are remembered (API_KEY_CACHE_TTL_MS): the
 * longest a revoked key keeps working on an instance that was not told. Call it before
 * the first request.
 */
export function configureKeyCache(prisma: PrismaClient, { ttlMs }: { ttlMs: number }): void {
  keyCaches.set(prisma, createKeyCaches(ttlMs));
}

function createKeyCaches(ttlMs: number): KeyCaches {
  return {
    known: new LRUCache({ max: 10_000, ttl: ttlMs }),
    unknown: new LRUCache({ max: 10_000, ttl: UNKNOWN_KEY_TTL_MS }),
    noted: new LRUCache({ max: 10_000, ttl: LAST_USED_RESOLUTION_MS }),
  };
}

function keyCachesOf(prisma: PrismaClient): KeyCaches {
  let caches = keyCaches.get(prisma);
  if (!caches) {
    caches = createKeyCaches(DEFAULT_KEY_CACHE_TTL_MS);
    keyCaches.set(prisma, caches);
  }
  return caches;
}

/** Forgets the given keys (revoked or rotated elsewhere): their next use is looked up again. */
export function forgetApiKeys(prisma: PrismaClient, keyIds: Iterable<string>): void {
  const ids = new Set(keyIds);
  const { known } = keyCachesOf(prisma);
  for (const [hash, entry] of known.entries()) {
    if (ids.has(entry.tenant.apiKeyId)) known.delete(hash);
  }
}

/** Forgets every remembered key, valid or not: after missing news (Redis was away), anything may have changed. */
export function forgetAllApiKeys(prisma: PrismaClient): void {
  const { known, unknown } = keyCachesOf(prisma);
  known.clear();
  unknown.clear();
}

async function noteUse(prisma: PrismaClient, caches: KeyCaches, keyId: string, now: number) {
  if (caches.noted.has(keyId)) return;
  caches.noted.set(keyId, true);
  // Several instances note a key within the same minute: the condition keeps it to one write.
  const due = new Date(now - LAST_USED_RESOLUTION_MS);
  await prisma.apiKey
    .updateMany({
      where: { id: keyId, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: due } }] },
      data: { lastUsedAt: new Date(now) },
    })
    // A bookkeeping write: a request is not failed for it.
    .catch(() => caches.noted.delete(keyId));
}

/** One scoped client per organization: building a Prisma extension per request is not free. */
function scopedClientOf(prisma: PrismaClient, organizationId: string): ScopedClient {
  let clients = scopedClients.get(prisma);
  if (!clients) {
    clients = new LRUCache({ max: SCOPED_CLIENTS_PER_DATABASE });
    scopedClients.set(prisma, clients);
  }
  let client = clients.get(organizationId);
  if (!client) {
    const db = scopeToOrganization(prisma, organizationId);
    const reader = rowReaderOf(prisma);
    client = { db, reads: { flowRuns: flowRunReads(db, reader, organizationId) }, statement: reader };
    clients.set(organizationId, client);
  }
  return client;
}
