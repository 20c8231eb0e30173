// Runs spread over many flows and threads, so that every row of a page points at other
// relations (what statement-count tests need to be meaningful).
import { triggerFlowRun } from '../../src/domain/flow-runs.ts';
import { createFlow } from '../../src/domain/flows.ts';
import { createMessageThread } from '../../src/domain/message-threads.ts';
import type { Tenant } from '../../src/domain/tenant.ts';
import { at } from './items.ts';

export async function seedRunsOnSeparateThreads(tenant: Tenant, { flows = 20, runs = 100 } = {}): Promise<void> {
  const flowIds: string[] = [];
  for (let i = 0; i < flows; i++) flowIds.push((await createFlow(tenant, { name: `Flow ${i}` })).id);
  for (let i = 0; i < runs; i++) {
    const thread = await createMessageThread(tenant, { channel: 'web', identifier: `visitor-${i}` });
    await triggerFlowRun(tenant, { flowId: at(flowIds, i % flowIds.length), messageThreadId: thread.id, state: {}, initialMessage: {} });
  }
}
