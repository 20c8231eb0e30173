// One idempotency key under concurrency, through real concurrent REST requests: the first
// use of a key is the one-statement trigger (src/domain/trigger-in-one-statement.ts), a
// retry is resolved by a second statement, and a trigger that meets an expired running
// run takes the full transaction. Whichever path each request takes and whatever races
// it on the thread — a delete of the key's run, the thread's running run finished or
// deleted, a plain trigger, the sweeper timing the running run out — one key makes at
// most one run, every request answers with that run (or IDEMPOTENT_RUN_DELETED once it
// is gone), no answered run is lost, and the thread's queue holds
// (test/support/queue-invariants.ts).
//
// On the embedded database (one connection) the requests cannot interleave inside the
// database, only between statements; the rounds still run there, fewer of them.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { sweepExpiredRuns } from '../../src/domain/session-timeouts.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { postThread } from '../support/rest-fixtures.ts';
import { queueViolations, snapshotQueues } from '../support/queue-invariants.ts';
import { call, type CallResult } from '../rest/support.ts';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SEED = process.env.IDEMPOTENT_RACE_SEED ? Number(process.env.IDEMPOTENT_RACE_SEED) : process.env.CI ? 11_2026 : Date.now() % 2 ** 31;

type Rival = 'none' | 'delete-keyed-run' | 'finish-running' | 'delete-running' | 'plain-trigger' | 'expired-running' | 'sweep';

interface Round {
  rival: Rival;
  /** Requests with the same key and body, each after its own delay. */
  retryDelaysMs: number[];
  rivalDelayMs: number;
  queuedBefore: number;
}

const roundArbitrary: fc.Arbitrary<Round> = fc.record({
  rival: fc.constantFrom<Rival>('none', 'delete-keyed-run', 'finish-running', 'delete-running', 'plain-trigger', 'expired-running', 'sweep'),
  retryDelaysMs: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 2, maxLength: 6 }),
  rivalDelayMs: fc.integer({ min: 0, max: 6 }),
  queuedBefore: fc.integer({ min: 0, max: 1 }),
});

describe.each(databaseTargets())('one idempotency key under concurrent requests on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  let flowId: string;

  const post = (messageThreadId: string, idempotencyKey?: string, state: unknown = { who: 'Henk' }) =>
    call(app, 'POST', '/public/v2/flow-runs', {
      key: org.key,
      body: { data: { type: 'flowRuns', attributes: { flowId, messageThreadId, state, initialMessage: {} } } },
      headers: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey },
    });
  const newThread = () => postThread(app, org.key, 'web', 'idem-race');
  const runIdsOf = async (messageThreadId: string) =>
    new Set((await db.prisma.flowRun.findMany({ where: { messageThreadId }, select: { id: true } })).map((run) => run.id));

  beforeAll(async () => {
    db = await openTestDatabase(target, { poolSize: 20 });
    app = createApp({ db });
    org = await createTestTenant(db, 'write', 'Idempotent races');
    const flow = await call(app, 'POST', '/public/v2/flows', {
      key: org.key,
      body: { data: { type: 'flows', attributes: { name: 'Raced', sessionTimeout: 30 } } },
    });
    flowId = flow.json.data.id;
  });
  afterAll(() => db?.close());

  it('40 concurrent first uses of one key with one body create one run; every other request replays it', async () => {
    const threadId = await newThread();
    // A running run first: the keyed run queues behind it, as a second run of the thread.
    const running = await post(threadId);
    const responses = await Promise.all(Array.from({ length: 40 }, () => post(threadId, 'storm')));
    expect(responses.map((response) => response.status)).toEqual(Array(40).fill(201));
    const ids = new Set(responses.map((response) => response.json.data.id));
    expect(ids.size).toBe(1);
    expect(responses.filter((response) => response.headers.get('Idempotent-Replayed') === 'true')).toHaveLength(39);
    expect(await runIdsOf(threadId)).toEqual(new Set([running.json.data.id, ...ids]));
    expect(queueViolations(await snapshotQueues(db.prisma, org.organizationId))).toEqual([]);
  });

  // Pinned down: one request with the key in the one-statement trigger, waiting for the
  // thread, while another with the same key takes the full transaction (a text message
  // needs the thread's channel; or the running run expired after the first one's
  // snapshot). Both paths take the thread before the key, so neither can hold the key
  // while waiting for the thread the other holds: no deadlock, one run.
  it.skipIf(target.name !== 'postgresql').each([
    ['another body that needs the full path', 'text message', 409],
    ['the same body, the running run expiring in between', 'expiry', 201],
  ] as const)(
    'a key in the one-statement trigger and the same key on the full path, both waiting for the thread: %s',
    async (_label, variant, secondStatus) => {
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      try {
        const threadId = await newThread();
        const running = await post(threadId);
        const key = `pinned-${variant}`;
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM "MessageThread" WHERE id = $1 FOR UPDATE', [threadId]);
        const oneStatement = post(threadId, key);
        await pause(300);
        let fullPath: Promise<CallResult>;
        if (variant === 'text message') {
          fullPath = call(app, 'POST', '/public/v2/flow-runs', {
            key: org.key,
            body: {
              data: {
                type: 'flowRuns',
                attributes: { flowId, messageThreadId: threadId, state: { who: 'Henk' }, initialMessage: { type: 'text', text: 'Hallo' } },
              },
            },
            headers: { 'Idempotency-Key': key },
          });
        } else {
          await db.prisma.flowRun.update({ where: { id: running.json.data.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
          fullPath = post(threadId, key);
        }
        await pause(300);
        await holder.query('COMMIT');
        const [first, second] = await Promise.all([oneStatement, fullPath]);
        expect(first.status).toBe(201);
        expect(first.headers.get('Idempotent-Replayed')).toBeNull();
        expect(second.status).toBe(secondStatus);
        if (secondStatus === 201) {
          expect(second.json.data.id).toBe(first.json.data.id);
          expect(second.headers.get('Idempotent-Replayed')).toBe('true');
        } else {
          expect(second.json.errors[0].code).toBe('IDEMPOTENCY_KEY_REUSED');
        }
        expect(await runIdsOf(threadId)).toEqual(new Set([running.json.data.id, first.json.data.id]));
        expect(queueViolations(await snapshotQueues(db.prisma, org.organizationId))).toEqual([]);
      } finally {
        await holder.end();
      }
    },
  );

  it('one key racing a delete of its run, the running run finished or deleted, a plain trigger, or a timeout keeps one run per key and the queue whole', async () => {
    const rounds = target.name === 'postgresql' ? 60 : 15;
    const tally = new Map<string, number>();
    console.log(`[idempotent races, ${target.name}] seed ${SEED} (replay with IDEMPOTENT_RACE_SEED=${SEED})`);
    await fc.assert(
      fc.asyncProperty(roundArbitrary, async (round) => {
        tally.set(round.rival, (tally.get(round.rival) ?? 0) + 1);
        const threadId = await newThread();
        const first = await post(threadId);
        expect(first.status).toBe(201);
        const runningId: string = first.json.data.id;
        for (let i = 0; i < round.queuedBefore; i++) expect((await post(threadId)).status).toBe(201);
        if (round.rival === 'expired-running' || round.rival === 'sweep') {
          // Past its expiry now (the trigger must time it out: the full path), or in a few ms.
          const expiresAt = new Date(Date.now() + (round.rival === 'sweep' ? round.rivalDelayMs : -1_000));
          await db.prisma.flowRun.update({ where: { id: runningId }, data: { expiresAt } });
        }
        const key = `race-${crypto.randomUUID()}`;
        let keyedRunId: string | undefined;
        if (round.rival === 'delete-keyed-run') {
          // The key's run exists before the retries, and is deleted while they run.
          const created = await post(threadId, key);
          expect(created.status).toBe(201);
          keyedRunId = created.json.data.id;
        }
        const before = await snapshotQueues(db.prisma, org.organizationId);
        const idsBefore = await runIdsOf(threadId);

        let plainRunId: string | undefined;
        let deleted: string | undefined;
        const rival = async () => {
          await pause(round.rivalDelayMs);
          const ok = (response: CallResult, ...statuses: number[]) => expect(statuses).toContain(response.status);
          switch (round.rival) {
            case 'delete-keyed-run': {
              const response = await call(app, 'DELETE', `/public/v2/flow-runs/${keyedRunId}`, { key: org.key });
              ok(response, 204);
              deleted = keyedRunId;
              return;
            }
            case 'delete-running': {
              const response = await call(app, 'DELETE', `/public/v2/flow-runs/${runningId}`, { key: org.key });
              ok(response, 204);
              deleted = runningId;
              return;
            }
            case 'finish-running': {
              const response = await call(app, 'PATCH', `/public/v2/flow-runs/${runningId}`, {
                key: org.key,
                body: { data: { type: 'flowRuns', id: runningId, attributes: { status: 'finished' } } },
              });
              ok(response, 200, 409);
              return;
            }
            case 'plain-trigger': {
              const response = await post(threadId);
              ok(response, 201);
              plainRunId = response.json.data.id;
              return;
            }
            case 'sweep':
              await sweepExpiredRuns(db.prisma, { clock: systemClock, changes: org.tenant.changes });
              return;
            default:
              return;
          }
        };
        const retries = round.retryDelaysMs.map(async (delay) => {
          await pause(delay);
          return post(threadId, key);
        });
        const [responses] = await Promise.all([Promise.all(retries), rival()]);

        const after = await snapshotQueues(db.prisma, org.organizationId);
        const idsAfter = await runIdsOf(threadId);
        const problems = queueViolations(after, before);
        const answered = new Set<string>();
        for (const response of responses) {
          if (response.status === 201) answered.add(response.json.data.id);
          else if (response.status === 409 && response.json.errors[0].code === 'IDEMPOTENT_RUN_DELETED' && deleted === keyedRunId) continue;
          else problems.push(`unexpected answer ${response.status}: ${response.text}`);
        }
        if (answered.size > 1) problems.push(`one key answered with ${answered.size} runs`);
        const keyRun = keyedRunId ?? [...answered][0];
        // A round without a run for the key made no request succeed: not allowed unless it was deleted.
        if (!keyRun) problems.push('no request created or replayed a run');
        if (keyedRunId && answered.size === 1 && !answered.has(keyedRunId)) problems.push('a retry created a second run for the key');
        // No lost or duplicated run: exactly the runs before, plus the key's and the plain
        // trigger's, minus the deleted one.
        const expected = new Set(idsBefore);
        if (keyRun) expected.add(keyRun);
        if (plainRunId) expected.add(plainRunId);
        if (deleted) expected.delete(deleted);
        const missing = [...expected].filter((id) => !idsAfter.has(id));
        const extra = [...idsAfter].filter((id) => !expected.has(id));
        if (missing.length) problems.push(`runs lost: ${missing.join(', ')}`);
        if (extra.length) problems.push(`runs nobody answered with: ${extra.join(', ')}`);
        if (problems.length) console.log(`[idempotent races] ${JSON.stringify(round)}\n  ${problems.join('\n  ')}`);
        expect(problems).toEqual([]);
      }),
      { numRuns: rounds, seed: SEED, endOnFailure: true },
    );
    console.log(`[idempotent races, ${target.name}] rounds by rival: ${[...tally].map(([kind, count]) => `${kind} ${count}`).join(', ')}`);
  }, 300_000);
});
