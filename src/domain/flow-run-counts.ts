// How many runs an organization has, read from the counts database triggers keep
// (prisma/migrations/*_flow_run_counts*): a sum over at most 8 rows instead of a
// count(*) over every run.
import type { Tenant } from './tenant.js';

export function countAllFlowRuns(tenant: Pick<Tenant, 'reads'>): Promise<number> {
  return tenant.reads.flowRuns.countAll();
}
