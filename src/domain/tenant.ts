// Who is acting: the organization behind the API key and what the key may do.
import type { TenantClient } from '../database/tenant.js';
import { DomainError } from './errors.js';

export type Access = 'read' | 'write';

export interface Tenant {
  organizationId: string;
  access: Access;
  /** Every query through this client is confined to the organization. */
  db: TenantClient;
}

export function assertCanWrite(tenant: Tenant): void {
  if (tenant.access !== 'write') {
    throw new DomainError('READ_ONLY_KEY', 'access denied: this API key is read-only');
  }
}
