// The webhook outbox: every writer of runs records its event for each subscribed, enabled
// endpoint of the run's organization, in the transaction of the change (so a change that
// rolls back leaves no event), and an organization without endpoints gets no row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRunChange } from '../../src/domain/flow-run-changes.ts';
import { deleteFlowRun, patchFlowRun } from '../../src/domain/flow-runs.ts';
import { createFlow } from '../../src/domain/flows.ts';
import { sweepExpiredRuns } from '../../src/domain/session-timeouts.ts';
import type { Tenant } from '../../src/domain/tenant.ts';
import { createWebhookEndpoint, updateWebhookEndpoint } from '../../src/domain/webhook-endpoints.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/domain/webhook-events.ts';
import { MINUTE, TestClock } from '../support/clock.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { newThread as threadOf, tenantWith, triggerRun } from '../support/fixtures.ts';

/** The one-statement trigger (src/domain/trigger-in-one-statement.ts), as sent. */
const ONE_STATEMENT = /^\s*WITH thread AS \(/;

describe.each(databaseTargets())('webhook outbox on $name', (target) => {
  let db: TestDatabase;
  let clock: TestClock;
  let tenant: Tenant;
  let quiet: Tenant;
  let flowId: string;
  let everything: string;
  let triggersOnly: string;

  const services = () => ({
    clock,
    changes: { publish: (_changes: readonly FlowRunChange[]) => undefined },
    webhookUrls: { allowPrivate: true },
  });
  const newThread = (as = tenant) => threadOf(as, 'outbox');
  const trigger = (messageThreadId: string, extra: object = {}) => triggerRun(tenant, flowId, messageThreadId, extra);
  const eventsOf = async (flowRunId: string, endpointId = everything) =>
    (await db.prisma.webhookDelivery.findMany({ where: { flowRunId, endpointId }, orderBy: { sequence: 'asc' } })).map((delivery) => [
      delivery.eventType,
      (delivery.flowRun as { status: string }).status,
    ]);

  beforeAll(async () => {
    db = await openTestDatabase(target);
    clock = new TestClock();
    tenant = (await tenantWith(db, services())).tenant;
    quiet = (await tenantWith(db, services(), 'No hooks')).tenant;
    flowId = (await createFlow(tenant, { name: 'Hooked', sessionTimeout: 60 })).id;
    everything = (await createWebhookEndpoint(tenant, { url: 'http://127.0.0.1:9/all', events: [...WEBHOOK_EVENT_TYPES] })).endpoint.id;
    triggersOnly = (await createWebhookEndpoint(tenant, { url: 'http://127.0.0.1:9/t', events: ['flowRun.triggered'] })).endpoint.id;
    // Off: records nothing.
    const off = await createWebhookEndpoint(tenant, { url: 'http://127.0.0.1:9/off', events: [...WEBHOOK_EVENT_TYPES] });
    await updateWebhookEndpoint(tenant, off.endpoint.id, { enabled: false });
  });
  afterAll(() => db?.close());

  /** `work`'s result, and the SQL statements it sent. */
  async function sent<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
    db.statements.length = 0;
    const result = await work();
    return { result, statements: [...db.statements] };
  }

  it('records triggers (one-statement and transactional paths), patches, promotions and deletions, in order', async () => {
    const thread = await newThread();
    const { result: first, statements: firstSent } = await sent(() => trigger(thread));
    // A text message is not one every channel takes (WhatsApp refuses it): the trigger must
    // read the thread's channel first, so it takes the transactional path.
    const textMessage = { type: 'text', text: 'Hello' };
    const { result: second, statements: secondSent } = await sent(() => trigger(thread, { initialMessage: textMessage, idempotencyKey: 'k-outbox' }));
    expect(firstSent).toEqual([expect.stringMatching(ONE_STATEMENT)]);
    expect(secondSent.length).toBeGreaterThan(1);
    expect(secondSent.filter((sql) => ONE_STATEMENT.test(sql))).toEqual([]);
    expect([first.status, second.status]).toEqual(['running', 'queued']);
    await patchFlowRun(tenant, first.id, { status: 'finished' });
    await deleteFlowRun(tenant, second.id);

    expect(await eventsOf(first.id)).toEqual([
      ['flowRun.triggered', 'running'],
      ['flowRun.updated', 'finished'],
    ]);
    expect(await eventsOf(second.id)).toEqual([
      ['flowRun.triggered', 'queued'],
      ['flowRun.promoted', 'running'],
      ['flowRun.deleted', 'running'],
    ]);
    expect(await eventsOf(first.id, triggersOnly)).toEqual([['flowRun.triggered', 'running']]);
    expect(await eventsOf(second.id, triggersOnly)).toEqual([['flowRun.triggered', 'queued']]);
    expect(await db.prisma.webhookDelivery.count({ where: { flowRunId: { in: [first.id, second.id] } } })).toBe(7);

    // The event carries the run as the change left it, with the REST resource's attributes.
    const triggered = await db.prisma.webhookDelivery.findFirstOrThrow({
      where: { flowRunId: first.id, endpointId: everything },
      orderBy: { sequence: 'asc' },
    });
    expect(triggered.flowRun).toMatchObject({
      id: first.id,
      flowId,
      messageThreadId: thread,
      state: {},
      initialMessage: {},
      status: 'running',
      cost: 0,
    });
    expect(triggered.occurredAt.toISOString()).toBe(clock.now().toISOString());
    const triggeredByTransaction = await db.prisma.webhookDelivery.findFirstOrThrow({
      where: { flowRunId: second.id, endpointId: everything },
      orderBy: { sequence: 'asc' },
    });
    expect(triggeredByTransaction.flowRun).toMatchObject({ id: second.id, initialMessage: textMessage, status: 'queued' });
  });

  it('records the timeout sweep: timedOut, then the next run promoted', async () => {
    const thread = await newThread();
    const running = await trigger(thread);
    const queued = await trigger(thread);
    clock.advance(61 * MINUTE);
    expect((await sweepExpiredRuns(db.prisma, services())).timedOut).toBeGreaterThanOrEqual(1);
    expect(await eventsOf(running.id)).toEqual([
      ['flowRun.triggered', 'running'],
      ['flowRun.timedOut', 'timeout'],
    ]);
    expect(await eventsOf(queued.id)).toEqual([
      ['flowRun.triggered', 'queued'],
      ['flowRun.promoted', 'running'],
    ]);
  });

  it('records nothing for a change that rolls back', async () => {
    const thread = await newThread();
    const run = await trigger(thread);
    await patchFlowRun(tenant, run.id, { status: 'finished' });
    // A constraint trigger refuses this one change's event, so that its transaction rolls
    // back after every statement of it (the run's update, then its outbox row) has run. On
    // PostgreSQL it is checked at COMMIT; on the embedded database when the row is written,
    // because its Prisma adapter does not report an error raised by COMMIT.
    const deferral = target.name === 'postgresql' ? 'DEFERRABLE INITIALLY DEFERRED' : '';
    await db.sql.exec(`
      CREATE OR REPLACE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW."flowRun"->'state' ? 'refuseAtCommit' THEN RAISE EXCEPTION 'refused at commit'; END IF;
        RETURN NEW;
      END $$;
      CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON "WebhookDelivery"
        ${deferral} FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();`);
    try {
      await expect(patchFlowRun(tenant, run.id, { state: { refuseAtCommit: true } })).rejects.toThrow();
    } finally {
      await db.sql.exec(`DROP TRIGGER refuse_at_commit ON "WebhookDelivery"; DROP FUNCTION refuse_at_commit();`);
    }
    expect((await db.prisma.flowRun.findUniqueOrThrow({ where: { id: run.id } })).state).toEqual({});
    expect(await eventsOf(run.id)).toEqual([
      ['flowRun.triggered', 'running'],
      ['flowRun.updated', 'finished'],
    ]);
    // Without the refusal the same change records its event.
    await patchFlowRun(tenant, run.id, { state: { refuseAtCommit: true } });
    expect((await eventsOf(run.id)).at(-1)).toEqual(['flowRun.updated', 'finished']);
    expect(await eventsOf(run.id)).toHaveLength(3);
  });

  it('writes no row for an organization without endpoints, and the trigger stays one statement', async () => {
    const quietFlow = (await createFlow(quiet, { name: 'Quiet' })).id;
    const thread = await newThread(quiet);
    db.statements.length = 0;
    const run = await triggerRun(quiet, quietFlow, thread);
    expect(db.statements).toHaveLength(1);
    expect(await db.prisma.webhookDelivery.count({ where: { flowRunId: run.id } })).toBe(0);
  });
});
