// The run's snapshot is one field list (src/domain/flow-run-snapshot.ts): the webhook body
// shows exactly it, and the REST resource, whose attributes come from the GraphQL type,
// shows the same fields in the same order, so a receiver reads one run either way.
import { describe, expect, it } from 'vitest';
import { FLOW_RUN_SNAPSHOT_FIELDS, type FlowRunSnapshot } from '../../src/domain/flow-run-snapshot.ts';
import { RESOURCE_BY_TYPE } from '../../src/rest/routes.ts';
import { renderFlowRun } from '../../src/webhooks/body.ts';

describe("the run's shape", () => {
  it('the REST resource shows the snapshot fields, in their order', () => {
    const resource = RESOURCE_BY_TYPE.get('flowRuns');
    expect(resource).toBeDefined();
    expect(['id', ...(resource?.attributes ?? [])]).toEqual([...FLOW_RUN_SNAPSHOT_FIELDS]);
  });

  it('a webhook body shows the snapshot fields, timestamps in the REST form', () => {
    const snapshot: FlowRunSnapshot = {
      id: '0b3d3c52-1111-4c2e-9d7e-5a0f5f3e2a10',
      createdAt: '2026-01-01T09:00:00.000Z',
      updatedAt: new Date('2026-01-01T09:30:00.000Z'),
      flowId: 'f',
      messageThreadId: 't',
      state: { step: 1 },
      initialMessage: {},
      status: 'running',
      cost: 3,
    };
    const body = renderFlowRun(snapshot);
    expect(Object.keys(body)).toEqual([...FLOW_RUN_SNAPSHOT_FIELDS]);
    expect([body.createdAt, body.updatedAt]).toEqual(['2026-01-01T09:00:00+00:00', '2026-01-01T09:30:00+00:00']);
  });
});
