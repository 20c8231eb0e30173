// Organizations (tenants), and who a presented API key acts for. Keys are random, shown
// once, and stored only as a SHA-256 hash: a leaked database does not leak working keys.
// Their life (create, list, revoke, rotate) is in api-keys.ts.
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../database/generated/prisma/client.js';
import { LRUCache } from 'lru-cache';
import { flowRunReads } from '../database/flow-run-reads.js';
import type { RowReader } from '../database/row-reader.js';
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
/**
 * Organizations whose scoped client is kept, the most recently authenticated. One pushed
 * out is built again on its next authentication (its keys remembered meanwhile keep theirs).
 */
export const SCOPED_CLIENTS_PER_DATABASE = 1_000;

/** Who presented keys act for, with what it remembers of keys and organizations. */
export interface Authenticator {
  /**
   * The tenant a presented key acts for, or an UNAUTHENTICATED error. A revoked or expired
   * key is refused exactly like one that never existed: nothing tells them apart.
   */
  authenticate(presentedKey: string | undefined): Promise<Tenant>;
  /** Forgets the given keys (revoked or rotated elsewhere): their next use is looked up again. */
  forgetApiKeys(keyIds: Iterable<string>): void;
  /** Forgets every remembered key, valid or not: after missing news (Redis was away), anything may have changed. */
  forgetAllApiKeys(): void;
  /** How many organizations' scoped clients are kept (tests). */
  scopedClientCount(): number;
}

export interface AuthenticatorOptions {
  /** Given to every tenant; its clock decides whether a key has expired. Default: system time, no announcements. */
  services?: DomainServices;
  /**
   * How long valid keys are remembered (API_KEY_CACHE_TTL_MS): the longest a revoked key
   * keeps working on an instance that was not told.
   */
  keyCacheTtlMs?: number;
}

type KnownKey = { tenant: Omit<Tenant, keyof DomainServices>; expiresAt: number | null };
type ScopedClient = Pick<Tenant, 'db' | 'reads' | 'statement'>;

/** One per process that serves requests (the app); a one-off authentication may make its own. */
export function createAuthenticator(
  { prisma, reader }: { prisma: PrismaClient; reader: RowReader },
  { services = defaultServices, keyCacheTtlMs = DEFAULT_KEY_CACHE_TTL_MS }: AuthenticatorOptions = {},
): Authenticator {
  const known = new LRUCache<string, KnownKey>({ max: 10_000, ttl: keyCacheTtlMs });
  const unknown = new LRUCache<string, true>({ max: 10_000, ttl: UNKNOWN_KEY_TTL_MS });
  /** Keys whose lastUsedAt this instance wrote within the last LAST_USED_RESOLUTION_MS. */
  const noted = new LRUCache<string, true>({ max: 10_000, ttl: LAST_USED_RESOLUTION_MS });
  // One scoped client per organization: building a Prisma extension per request is not free.
  const scopedClients = new LRUCache<string, ScopedClient>({ max: SCOPED_CLIENTS_PER_DATABASE });

  function scopedClientOf(organizationId: string): ScopedClient {
    let client = scopedClients.get(organizationId);
    if (!client) {
      const db = scopeToOrganization(prisma, organizationId);
      client = { db, reads: { flowRuns: flowRunReads(db, reader, organizationId) }, statement: reader };
      scopedClients.set(organizationId, client);
    }
    return client;
  }

  async function noteUse(keyId: string, now: number) {
    if (noted.has(keyId)) return;
    noted.set(keyId, true);
    // Several instances note a key within the same minute: the condition keeps it to one write.
    const due = new Date(now - LAST_USED_RESOLUTION_MS);
    await prisma.apiKey
      .updateMany({
        where: { id: keyId, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: due } }] },
        data: { lastUsedAt: new Date(now) },
      })
      // A bookkeeping write: a request is not failed for it.
      .catch(() => noted.delete(keyId));
  }

  return {
    async authenticate(presentedKey) {
      if (!presentedKey) {
        throw new DomainError('UNAUTHENTICATED', 'an API key is required in the Authorization header');
      }
      const hash = hashApiKey(presentedKey);
      const now = services.clock.now().getTime();
      let entry = known.get(hash);
      if (entry && entry.expiresAt !== null && entry.expiresAt <= now) {
        known.delete(hash);
        entry = undefined;
        unknown.set(hash, true);
        throw refused();
      }
      if (!entry) {
        if (unknown.has(hash)) throw refused();
        const apiKey = await prisma.apiKey.findUnique({
          where: { hash },
          select: { id: true, organizationId: true, scope: true, expiresAt: true, revokedAt: true },
        });
        if (!apiKey || apiKey.revokedAt || (apiKey.expiresAt && apiKey.expiresAt.getTime() <= now)) {
          unknown.set(hash, true);
          throw refused();
        }
        entry = {
          tenant: {
            organizationId: apiKey.organizationId,
            apiKeyId: apiKey.id,
            apiKeyExpiresAt: apiKey.expiresAt,
            access: apiKey.scope,
            ...scopedClientOf(apiKey.organizationId),
          },
          expiresAt: apiKey.expiresAt?.getTime() ?? null,
        };
        known.set(hash, entry);
      }
      await noteUse(entry.tenant.apiKeyId, now);
      return { ...services, ...entry.tenant };
    },
    forgetApiKeys(keyIds) {
      const ids = new Set(keyIds);
      for (const [hash, entry] of known.entries()) {
        if (ids.has(entry.tenant.apiKeyId)) known.delete(hash);
      }
    },
    forgetAllApiKeys() {
      known.clear();
      unknown.clear();
    },
    scopedClientCount: () => scopedClients.size,
  };
}
