// One change heard by several subscriptions — SSE requests, and two subscriptions of one
// WebSocket connection — reads the run its payloads show once, in one statement
// (src/graphql/flow-run-loader.ts, the loader kept per change).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { type FlowRunChange, systemClock } from '../../src/domain/flow-run-changes.ts';
import { createFlowRunChangeBus, type FlowRunChangeBus } from '../../src/events/flow-run-change-bus.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { serve, type RunningServer } from '../../src/http/serve.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';
import {
  FLOW_RUN_CHANGED,
  type LiveSubscription,
  sleep,
  subscribeSse,
  subscribeWs,
  triggerOperation,
  untilListening,
  wsClient,
} from './live-support.ts';

/** flowRunChanged with the given selection of its run. */
const changed = (flowRun: string) => `subscription Changed($flowRunId: UUID, $messageThreadId: UUID) {
  flowRunChanged(flowRunId: $flowRunId, messageThreadId: $messageThreadId) { kind flowRunId messageThreadId status at ${flowRun} }
}`;

describe.each(databaseTargets())('one change fanned out to several subscriptions on $name', (target) => {
  let db: TestDatabase;
  let bus: FlowRunChangeBus;
  let app: App;
  let server: RunningServer;
  let org: TestTenant;
  let client: Client;

  async function gql(query: string, variables?: Record<string, unknown>) {
    const result = await sendGraphQL<Record<string, any>, Record<string, unknown>>(app, org.key, query, variables);
    expect(result.errors).toBeUndefined();
    return result.data!;
  }

  beforeAll(async () => {
    db = await openTestDatabase(target);
    bus = createFlowRunChangeBus();
    app = createApp({ db, services: { clock: systemClock, changes: bus }, changeFeed: bus });
    server = await serve(app, 0, '127.0.0.1');
    org = await createTestTenant(db, 'write', 'Fan-out org');
  });
  afterAll(async () => {
    await client?.dispose();
    await server?.close(1_000);
    await bus?.close();
    await db?.close();
  });

  it('5 subscriptions hearing one change read the run in one statement, each payload with the run', async () => {
    const flowId = (await gql('mutation($i: CreateFlowInput!) { createFlow(input: $i) { flow { id } } }', { i: { name: 'Fan-out' } })).createFlow.flow
      .id;
    const messageThreadId = (
      await gql('mutation($i: CreateMessageThreadInput!) { createMessageThread(input: $i) { messageThread { id } } }', {
        i: { channel: 'web', identifier: 'fan-out' },
      })
    ).createMessageThread.messageThread.id;
    const run = triggerOperation.run(
      await gql(triggerOperation.query, { i: { flowId, messageThreadId, state: { fan: 'out' }, initialMessage: {} } }),
    );

    client = wsClient(server.port, org.key);
    const sse = (variables: Record<string, unknown>, query: string) =>
      subscribeSse((request) => app.fetch(request), org.key, variables, 'http://test/graphql', query);
    // Five subscriptions asking different things of the run: Prisma's own batching of
    // findUnique only merges asks of the same shape.
    const subscriptions: LiveSubscription[] = [
      await sse({ flowRunId: run.id }, FLOW_RUN_CHANGED),
      await sse({ messageThreadId }, changed('flowRun { id status state flow { name } }')),
      await sse({ flowRunId: run.id }, changed('flowRun { id status state messageThread { identifier } cost }')),
      subscribeWs(client, { flowRunId: run.id }, changed('flowRun { id status state initialMessage flow { id } messageThread { id } }')),
      subscribeWs(client, { messageThreadId }, changed('flowRun { id status state createdAt }')),
    ];
    try {
      for (const { inbox } of subscriptions) {
        await untilListening(inbox, bus, { organizationId: org.organizationId, flowRunId: run.id, messageThreadId });
      }
      // Let the probes' own reads finish before counting.
      await sleep(200);
      db.statements.length = 0;
      const change: FlowRunChange = {
        kind: 'updated',
        organizationId: org.organizationId,
        flowRunId: run.id,
        messageThreadId,
        status: 'running',
        at: new Date().toISOString(),
      };
      bus.publish([change]);
      const payloads = await Promise.all(subscriptions.map(({ inbox }) => inbox.changesUpTo(1)));
      const statements = [...db.statements];
      for (const [payload] of payloads) {
        expect(payload).toMatchObject({ kind: 'updated', flowRunId: run.id, flowRun: { id: run.id, status: 'running', state: { fan: 'out' } } });
      }
      // Each payload has what its subscription asked for, and only that.
      expect(payloads.map(([payload]) => Object.keys(payload!.flowRun!).sort())).toEqual([
        ['id', 'state', 'status'],
        ['flow', 'id', 'state', 'status'],
        ['cost', 'id', 'messageThread', 'state', 'status'],
        ['flow', 'id', 'initialMessage', 'messageThread', 'state', 'status'],
        ['createdAt', 'id', 'state', 'status'],
      ]);
      expect((payloads[1]![0]!.flowRun as Record<string, any>).flow).toEqual({ name: 'Fan-out' });
      expect((payloads[2]![0]!.flowRun as Record<string, any>).messageThread).toEqual({ identifier: 'fan-out' });
      console.log(`[${target.name}] one change, 5 subscriptions → ${statements.length} statement(s)`);
      expect(statements).toHaveLength(1);
    } finally {
      await Promise.all(subscriptions.map((subscription) => subscription.close()));
    }
  });
});
