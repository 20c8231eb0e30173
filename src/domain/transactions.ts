import type { TenantClient, TenantTransaction } from '../database/tenant.js';

// Writers to one thread queue up behind its row lock, and the embedded database has a
// single connection, so a transaction may wait its turn well beyond Prisma's 2 s default.
// Every transaction of the domain uses them, on the tenant client or (API keys) on Prisma's.
export const TRANSACTION_OPTIONS = { maxWait: 15_000, timeout: 15_000 } as const;

export function inTransaction<T>(db: TenantClient, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
  return db.$transaction(work, TRANSACTION_OPTIONS);
}
