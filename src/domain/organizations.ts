// Organizations (tenants) and their API keys. Keys are random, shown once, and stored
// only as a SHA-256 hash: a leaked database does not leak working keys.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { PrismaClient } from '../database/generated/prisma/client.js';
import { LRUCache } from 'lru-cache';
import { scopeToOrganization, type TenantClient } from '../database/tenant.js';
import { DomainError } from './errors.js';
import { type Access, type DomainServices, defaultServices, type Tenant } from './tenant.js';

const KEY_PREFIX = 'frg_';

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

export async function createOrganization(prisma: PrismaClient, name: string) {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 200) {
    throw new DomainError('VALIDATION_FAILED', 'name: must be 1 to 200 characters', ['name']);
  }
  return prisma.organization.create({ data: { id: randomUUID(), name: trimmed } });
}

/** Creates a key and returns it in clear: the only time it is ever seen. */
export async function createApiKey(prisma: PrismaClient, organizationId: string, access: Access): Promise<string> {
  const organization = await prisma.organization.findUnique({ where: { id: organizationId }, select: { id: true } });
  if (!organization) {
    throw new DomainError('REFERENCED_RESOURCE_NOT_FOUND', `organization ${organizationId} not found`, ['org']);
  }
  const key = KEY_PREFIX + randomBytes(24).toString('base64url');
  await prisma.apiKey.create({
    data: { id: randomUUID(), organizationId, hash: hashApiKey(key), scope: access },
  });
  return key;
}

/** The tenant a presented key acts for, or an UNAUTHENTICATED error. */
export async function authenticate(
  prisma: PrismaClient,
  presentedKey: string | undefined,
  services: DomainServices = defaultServices,
): Promise<Tenant> {
  if (!presentedKey) {
    throw new DomainError('UNAUTHENTICATED', 'an API key is required in the Authorization header');
  }
  const keys = knownKeysOf(prisma);
  const hash = hashApiKey(presentedKey);
  let known = keys.get(hash);
  if (!known) {
    const unknown = unknownKeysOf(prisma);
    if (unknown.has(hash)) throw new DomainError('UNAUTHENTICATED', 'the API key is not valid');
    const apiKey = await prisma.apiKey.findUnique({ where: { hash }, select: { id: true, organizationId: true, scope: true } });
    if (!apiKey) {
      unknown.set(hash, true);
      throw new DomainError('UNAUTHENTICATED', 'the API key is not valid');
    }
    known = {
      organizationId: apiKey.organizationId,
      apiKeyId: apiKey.id,
      access: apiKey.scope,
      db: scopedClientOf(prisma, apiKey.organizationId),
    };
    keys.set(hash, known);
  }
  return { ...services, ...known };
}

// Every request presents its key: remembering valid keys for a short while saves a
// query per request. Keys are never deleted today; should revocation come, a revoked key
// would keep working for at most KNOWN_KEY_TTL_MS on instances that saw it recently.
const KNOWN_KEY_TTL_MS = 30_000;
type KnownKey = Omit<Tenant, keyof DomainServices>;
const knownKeys = new WeakMap<PrismaClient, LRUCache<string, KnownKey>>();
const scopedClients = new WeakMap<PrismaClient, Map<string, TenantClient>>();

function knownKeysOf(prisma: PrismaClient) {
  let cache = knownKeys.get(prisma);
  if (!cache) {
    cache = new LRUCache({ max: 10_000, ttl: KNOWN_KEY_TTL_MS });
    knownKeys.set(prisma, cache);
  }
  return cache;
}

// Unknown keys are remembered too, briefly: a client retrying a wrong key in a loop costs
// a look-up per UNKNOWN_KEY_TTL_MS, not one per request. Keys are random and shown once,
// so none is presented before it exists. Bounded, so that random keys only push older
// entries out.
const UNKNOWN_KEY_TTL_MS = 30_000;
const unknownKeys = new WeakMap<PrismaClient, LRUCache<string, true>>();

function unknownKeysOf(prisma: PrismaClient) {
  let cache = unknownKeys.get(prisma);
  if (!cache) {
    cache = new LRUCache({ max: 10_000, ttl: UNKNOWN_KEY_TTL_MS });
    unknownKeys.set(prisma, cache);
  }
  return cache;
}

/** One scoped client per organization: building a Prisma extension per request is not free. */
function scopedClientOf(prisma: PrismaClient, organizationId: string): TenantClient {
  let clients = scopedClients.get(prisma);
  if (!clients) {
    clients = new Map();
    scopedClients.set(prisma, clients);
  }
  let client = clients.get(organizationId);
  if (!client) {
    client = scopeToOrganization(prisma, organizationId);
    clients.set(organizationId, client);
  }
  return client;
}
