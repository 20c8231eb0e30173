// How many runs an organization has, read from the counts a database trigger keeps
// (prisma/migrations/*_flow_run_counts): a sum over at most 8 rows instead of a
// count(*) over every run.
import type { Tenant } from './tenant.js';

export function countAllFlowRuns(tenant: Pick<Tenant, 'reads'>): Promise<number> {
  return tenant.reads.flowRuns.countAll();
}
