// A trigger whose state holds a character PostgreSQL cannot store (U+0000) is the client's
// mistake: 400 VALIDATION_FAILED and nothing written, on both surfaces and databases, with
// and without an Idempotency-Key. The one-statement trigger sends its SQL through the row
// reader, whose errors are the driver's own rather than Prisma's: this holds them to the
// same answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { newFlow, newThread } from '../support/fixtures.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { call } from './support.ts';

describe.each(databaseTargets())('a trigger with an unstorable value on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  let flowId: string;
  let messageThreadId: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    org = await createTestTenant(db);
    flowId = await newFlow(org.tenant, 'Onboarding');
    messageThreadId = await newThread(org.tenant, 'visitor-nul');
  });
  afterAll(() => db?.close());

  it.each([{ key: undefined }, { key: 'nul-in-state' }])('REST (Idempotency-Key: $key) answers 400 and writes nothing', async ({ key }) => {
    const response = await call(app, 'POST', '/public/v2/flow-runs', {
      key: org.key,
      headers: key ? { 'Idempotency-Key': key } : {},
      body: { data: { type: 'flowRuns', attributes: { flowId, messageThreadId, state: { name: 'a\u0000b' }, initialMessage: {} } } },
    });
    expect(response.status).toBe(400);
    expect(response.json.errors[0]).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await db.prisma.flowRun.count({ where: { organizationId: org.organizationId } })).toBe(0);
    expect(await db.prisma.idempotentTrigger.count({ where: { organizationId: org.organizationId } })).toBe(0);
  });

  it('GraphQL answers VALIDATION_FAILED and writes nothing', async () => {
    const result = await sendGraphQL<{ triggerFlowRun: unknown }, unknown>(
      app,
      org.key,
      'mutation ($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { flowRun { id } } }',
      { input: { flowId, messageThreadId, state: { name: 'a\u0000b' }, initialMessage: {} } },
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await db.prisma.flowRun.count({ where: { organizationId: org.organizationId } })).toBe(0);
  });
});
