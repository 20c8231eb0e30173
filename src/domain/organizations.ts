// Organizations (tenants) and their API keys. Keys are random, shown once, and stored
// only as a SHA-256 hash: a leaked database does not leak working keys.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { PrismaClient } from '../database/generated/prisma/client.js';
import { scopeToOrganization } from '../database/tenant.js';
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
  const apiKey = await prisma.apiKey.findUnique({
    where: { hash: hashApiKey(presentedKey) },
    select: { organizationId: true, scope: true },
  });
  if (!apiKey) throw new DomainError('UNAUTHENTICATED', 'the API key is not valid');
  return {
    ...services,
    organizationId: apiKey.organizationId,
    access: apiKey.scope,
    db: scopeToOrganization(prisma, apiKey.organizationId),
  };
}
