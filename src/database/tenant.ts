// Tenant isolation in the data layer: a client scoped to one organization adds
// `organizationId` to every query it sends, so a resolver that forgets a `where` still
// cannot read or touch another organization's rows.
import type { PrismaClient } from './generated/prisma/client.js';

const TENANT_MODELS = new Set([
  'ApiKey',
  'Flow',
  'MessageThread',
  'FlowRun',
  'FlowRunCount',
  'IdempotentTrigger',
  'AuditEvent',
  'WebhookEndpoint',
  'WebhookDelivery',
]);

type Args = Record<string, unknown> & { where?: object; data?: unknown; create?: object };

function scopeArgs(operation: string, args: Args, organizationId: string): Args {
  switch (operation) {
    case 'create':
      return { ...args, data: { ...(args.data as object), organizationId } };
    case 'createMany':
    case 'createManyAndReturn': {
      const rows = Array.isArray(args.data) ? args.data : [args.data];
      return { ...args, data: rows.map((row) => ({ ...(row as object), organizationId })) };
    }
    case 'upsert':
      return {
        ...args,
        where: { ...args.where, organizationId },
        create: { ...args.create, organizationId },
      };
    default:
      // find*, update*, delete*, count, aggregate, groupBy
      return { ...args, where: { ...args.where, organizationId } };
  }
}

export function scopeToOrganization(prisma: PrismaClient, organizationId: string) {
  return prisma.$extends({
    name: 'organization-scope',
    query: {
      $allModels: {
        async $allOperations({ model, operation, args, query }) {
          if (model === 'Organization') {
            // An organization sees itself and nothing else, and cannot be changed from here.
            if (!operation.startsWith('find') && operation !== 'count') {
              throw new Error(`Organization.${operation} is not allowed on a tenant-scoped client`);
            }
            const { where } = args as Args;
            return query({ ...(args as object), where: { ...where, id: organizationId } } as typeof args);
          }
          if (!TENANT_MODELS.has(model)) {
            throw new Error(`Model ${model} has no tenant scope`);
          }
          return query(scopeArgs(operation, args as Args, organizationId) as typeof args);
        },
      },
    },
  });
}

export type TenantClient = ReturnType<typeof scopeToOrganization>;
/** The client inside an interactive transaction of a TenantClient. */
export type TenantTransaction = Parameters<Parameters<TenantClient['$transaction']>[0]>[0];
