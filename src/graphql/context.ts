import type { Tenant } from '../domain/tenant.js';

/** What every resolver gets: the organization the API key acts for. */
export interface GraphQLContext {
  tenant: Tenant;
}
