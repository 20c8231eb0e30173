// Webhook endpoints: where an organization wants its flow-run events POSTed, signed the
// Standard Webhooks way with a secret of the endpoint's own.
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { WebhookEndpoint } from '../database/generated/prisma/client.js';
import { apiKeyActor, type AuditAction, recordAuditEvent } from './audit-log.js';
import { isRecordNotFound } from './database-errors.js';
import { DomainError, notFound } from './errors.js';
import { assertCanWrite, type Tenant } from './tenant.js';
import { inTransaction } from './transactions.js';
import { parseInput } from './validation.js';
import { WEBHOOK_EVENT_TYPES } from './webhook-events.js';
import { checkWebhookUrl, strictUrlPolicy } from './webhook-urls.js';

export type { WebhookEndpoint };

/**
 * The most endpoints an organization may have (enabled or not): every one is a stream of
 * requests this service makes on the organization's behalf, sharing the delivery workers
 * with every other organization.
 */
export const MAX_WEBHOOK_ENDPOINTS = 20;

/** Standard Webhooks' secret format: `whsec_` and the base64 of the key (here 32 random bytes). */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

const endpointFields = {
  url: z.string('must be a string'),
  events: z
    .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `must each be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }))
    .min(1, `must name at least one of ${WEBHOOK_EVENT_TYPES.join(', ')}`)
    .transform((events) => [...new Set(events)]),
  enabled: z.boolean(),
  description: z.string().max(500, 'must be at most 500 characters').nullable(),
};
const createSchema = z.object({
  ...endpointFields,
  enabled: endpointFields.enabled.optional(),
  description: endpointFields.description.optional(),
});
const updateSchema = z.object(endpointFields).partial();

// Event names arrive as plain strings (GraphQL enum values cannot hold dots): the schema above judges them.
export interface UpdateWebhookEndpointInput {
  url?: string | null;
  events?: string[] | null;
  enabled?: boolean | null;
  description?: string | null;
}
export type CreateWebhookEndpointInput = UpdateWebhookEndpointInput & { url: string; events: string[] };

type Transaction = Parameters<Parameters<Tenant['db']['$transaction']>[0]>[0];

/** The audit event of a change, in its transaction. Never the secret. */
function audit(tx: Transaction, tenant: Tenant, action: AuditAction, endpoint: { id: string }, details: Record<string, unknown> = {}) {
  return recordAuditEvent(tx, {
    organizationId: tenant.organizationId,
    actor: apiKeyActor(tenant.apiKeyId),
    action,
    subjectType: 'webhookEndpoint',
    subjectId: endpoint.id,
    details: details as never,
  });
}

/** What an auditor sees of an endpoint: everything but its secret. */
const auditView = (endpoint: WebhookEndpoint) => ({
  url: endpoint.url,
  events: endpoint.events,
  enabled: endpoint.enabled,
  description: endpoint.description,
});

/** An endpoint and its signing secret: the only moments the secret is shown. */
export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

// Absent and null arrive alike from GraphQL; only `description` may be cleared with null.
const withoutNulls = (input: object) => Object.fromEntries(Object.entries(input).filter(([key, value]) => value !== null || key === 'description'));

export async function createWebhookEndpoint(tenant: Tenant, input: CreateWebhookEndpointInput): Promise<EndpointWithSecret> {
  assertCanWrite(tenant);
  const data = parseInput(createSchema, withoutNulls(input));
  const url = await checkWebhookUrl(data.url, tenant.webhookUrls ?? strictUrlPolicy);
  const secret = newSigningSecret();
  const endpoint = await inTransaction(tenant.db, async (tx) => {
    // Creations of one organization queue up here, so that two at once cannot both see
    // room for one more. NO KEY UPDATE: rows that merely refer to the organization (a
    // trigger's run) are not held up by it.
    await tx.$queryRaw`SELECT 1 FROM "Organization" WHERE id = ${tenant.organizationId}::uuid FOR NO KEY UPDATE`;
    if ((await tx.webhookEndpoint.count()) >= MAX_WEBHOOK_ENDPOINTS) {
      throw new DomainError(
        'LIMIT_REACHED',
        `an organization may have at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints; delete one to add another`,
      );
    }
    const created = await tx.webhookEndpoint.create({
      data: { ...data, url, secret, id: randomUUID(), organizationId: tenant.organizationId },
    });
    await audit(tx, tenant, 'webhookEndpoint.created', created, auditView(created));
    return created;
  });
  return { endpoint, secret };
}

export async function updateWebhookEndpoint(tenant: Tenant, id: string, input: UpdateWebhookEndpointInput): Promise<WebhookEndpoint> {
  assertCanWrite(tenant);
  const data = parseInput(updateSchema, withoutNulls(input));
  const url = data.url === undefined ? undefined : await checkWebhookUrl(data.url, tenant.webhookUrls ?? strictUrlPolicy);
  try {
    return await inTransaction(tenant.db, async (tx) => {
      const updated = await tx.webhookEndpoint.update({
        where: { id },
        data: {
          ...data,
          ...(url !== undefined && { url }),
          // Turned on again: the reason it was turned off no longer holds, and its
          // failures start counting afresh.
          ...(data.enabled === true && { disabledReason: null, failingSince: null }),
        },
      });
      const changed = Object.keys(data).filter((name) => name !== 'url' || url !== undefined);
      await audit(tx, tenant, 'webhookEndpoint.updated', updated, { changed, now: auditView(updated) });
      return updated;
    });
  } catch (error) {
    if (isRecordNotFound(error)) throw notFound('WebhookEndpoint');
    throw error;
  }
}

/** A new signing secret; the old one stops signing at once. */
export async function rotateWebhookEndpointSecret(tenant: Tenant, id: string): Promise<EndpointWithSecret> {
  assertCanWrite(tenant);
  const secret = newSigningSecret();
  try {
    const endpoint = await inTransaction(tenant.db, async (tx) => {
      const rotated = await tx.webhookEndpoint.update({ where: { id }, data: { secret } });
      await audit(tx, tenant, 'webhookEndpoint.secretRotated', rotated);
      return rotated;
    });
    return { endpoint, secret };
  } catch (error) {
    if (isRecordNotFound(error)) throw notFound('WebhookEndpoint');
    throw error;
  }
}

/** Deletes the endpoint and its deliveries, pending ones included. */
export async function deleteWebhookEndpoint(tenant: Tenant, id: string): Promise<void> {
  assertCanWrite(tenant);
  try {
    await inTransaction(tenant.db, async (tx) => {
      const deleted = await tx.webhookEndpoint.delete({ where: { id } });
      await audit(tx, tenant, 'webhookEndpoint.deleted', deleted, auditView(deleted));
    });
  } catch (error) {
    if (isRecordNotFound(error)) throw notFound('WebhookEndpoint');
    throw error;
  }
}
