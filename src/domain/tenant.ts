// Who is acting: the organization behind the API key and what the key may do, plus the
// services the rules need from outside (time, and where to announce changes).
import type { FlowRunReads } from '../database/flow-run-reads.js';
import type { RowReader } from '../database/row-reader.js';
import type { TenantClient } from '../database/tenant.js';
import { DomainError } from './errors.js';
import type { WebhookUrlPolicy } from './webhook-urls.js';
import { type Clock, discardChanges, type FlowRunChangePublisher, systemClock } from './flow-run-changes.js';

export type Access = 'read' | 'write';

export interface DomainServices {
  clock: Clock;
  changes: FlowRunChangePublisher;
  /** Where webhook endpoints may point; default: public https URLs only. */
  webhookUrls?: WebhookUrlPolicy;
}

export const defaultServices: DomainServices = { clock: systemClock, changes: discardChanges };

export interface Tenant extends DomainServices {
  organizationId: string;
  /** The API key the request came with: who acted, for the audit log. */
  apiKeyId: string;
  /** When that key stops being accepted; null: not before it is revoked. */
  apiKeyExpiresAt: Date | null;
  access: Access;
  /** Every query through this client is confined to the organization. */
  db: TenantClient;
  /**
   * Runs one statement without Prisma (rows as arrays), for the one-statement trigger,
   * whose SQL carries its own organization conditions.
   */
  statement: RowReader;
  /** Hand-written reads for the hottest queries, confined to the organization like `db`. */
  reads: { flowRuns: FlowRunReads };
}

export function assertCanWrite(tenant: Tenant): void {
  if (tenant.access !== 'write') {
    throw new DomainError('READ_ONLY_KEY', 'access denied: this API key is read-only');
  }
}
