// The SQL text the service sends for its hottest paths, compared exactly with the checked-in
// files under test/fixtures/sql/ (one per case), so that a change of the text shows in review.
// Only the text is compared: every value is a bind parameter, and the inputs are fixed.
//
// After an intended change, rewrite the files and review their diff:
//   UPDATE_SQL_SNAPSHOTS=1 npx vitest run --config test/vitest.config.ts test/database/sql-snapshots.test.ts
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFlowRunRead, type FlowRunReadArgs } from '../../src/database/flow-run-reads.ts';
import { effectiveStatusWhere } from '../../src/domain/flow-run-queue.ts';
import type { Tenant } from '../../src/domain/tenant.ts';
import { triggerInOneStatement } from '../../src/domain/trigger-in-one-statement.ts';
import { orderByWithTieBreak } from '../../src/graphql/types/lists.ts';

const FIXTURES = new URL('../fixtures/sql/', import.meta.url);
const UPDATE = process.env.UPDATE_SQL_SNAPSHOTS === '1';

const ORGANIZATION = '00000000-0000-4000-8000-000000000001';
const FLOW = '00000000-0000-4000-8000-000000000002';
const THREAD = '00000000-0000-4000-8000-000000000003';
const RUN = '00000000-0000-4000-8000-000000000004';
const NOW = new Date('2026-01-01T00:00:00Z');

/** The file's text is the statement as produced, with a final newline. */
function expectSnapshot(name: string, sql: string) {
  const file = new URL(`${name}.sql`, FIXTURES);
  const text = `${sql}\n`;
  if (UPDATE) writeFileSync(file, text);
  expect(existsSync(file), `${name}.sql exists (UPDATE_SQL_SNAPSHOTS=1 writes it)`).toBe(true);
  expect(text, `${name}.sql (UPDATE_SQL_SNAPSHOTS=1 rewrites it)`).toBe(readFileSync(file, 'utf8'));
}

const LIGHT = { id: true, status: true, cost: true, createdAt: true, updatedAt: true, expiresAt: true } as const;
const WITH_RELATIONS = { ...LIGHT, flowId: true, messageThreadId: true, state: true, initialMessage: true, flow: true, messageThread: true } as const;
const newest = orderByWithTieBreak(null, { field: 'createdAt', direction: 'desc' as const });

const orders = {
  newest,
  cheapest: orderByWithTieBreak([{ field: 'cost', direction: 'asc' }], { field: 'createdAt', direction: 'desc' }),
  'status-then-newest': orderByWithTieBreak(
    [
      { field: 'status', direction: 'asc' },
      { field: 'createdAt', direction: 'desc' },
    ],
    { field: 'createdAt', direction: 'desc' },
  ),
  'least-recently-updated': orderByWithTieBreak([{ field: 'updatedAt', direction: 'asc' }], { field: 'createdAt', direction: 'desc' }),
};

const reads: Record<string, FlowRunReadArgs> = {
  'runs-page-with-flow-and-thread': { select: WITH_RELATIONS, orderBy: newest, take: 25 },
  'runs-filtered-by-status': { select: LIGHT, where: effectiveStatusWhere(['running', 'finished', 'timeout'], NOW), orderBy: newest, take: 25 },
  'runs-filtered-by-updated-since': { select: LIGHT, where: { updatedAt: { gte: NOW } }, orderBy: newest, take: 25 },
  'runs-filtered-by-flow': { select: LIGHT, where: { flowId: FLOW }, orderBy: newest, take: 25 },
  'runs-filtered-by-flow-status-and-updated-since': {
    select: LIGHT,
    where: { flowId: FLOW, updatedAt: { gte: NOW }, ...effectiveStatusWhere(['queued'], NOW) },
    orderBy: newest,
    take: 25,
  },
  ...Object.fromEntries(Object.entries(orders).map(([name, orderBy]) => [`runs-ordered-${name}`, { select: LIGHT, orderBy, take: 25 }])),
  'runs-after-cursor': { select: LIGHT, orderBy: newest, cursor: { id: RUN }, skip: 1, take: 25 },
  'runs-before-cursor': { select: LIGHT, orderBy: newest, cursor: { id: RUN }, skip: 1, take: -25 },
  'runs-after-cursor-mixed-directions': { select: LIGHT, orderBy: orders['status-then-newest'], cursor: { id: RUN }, skip: 1, take: 25 },
  'run-by-id': { select: WITH_RELATIONS, where: { id: RUN } },
  'runs-by-ids': { select: LIGHT, where: { id: { in: [RUN, FLOW] } } },
};

describe('SQL snapshots', () => {
  it.each(Object.entries(reads))('the run read %s compiles to its checked-in statement', (name, args) => {
    const compiled = compileFlowRunRead(ORGANIZATION, args);
    expect(compiled, 'compiled, not left to Prisma').toBeDefined();
    expectSnapshot(name, compiled!.text);
  });

  it.each([
    ['trigger-in-one-statement', undefined],
    ['trigger-in-one-statement-with-idempotency-key', { key: 'key-1', requestHash: 'hash-1' }],
  ] as const)('the one-statement trigger %s is its checked-in statement', async (name, idempotency) => {
    const sent: string[] = [];
    // Only the statement runner is used: it records the text and answers "no row" (the
    // caller would then take the transactional path).
    const tenant = {
      organizationId: ORGANIZATION,
      statement: async (text: string) => {
        sent.push(text);
        return [];
      },
    } as unknown as Tenant;
    const outcome = await triggerInOneStatement(tenant, {
      flowId: FLOW,
      messageThreadId: THREAD,
      state: { step: 1 },
      initialMessage: { text: 'hello' },
      now: NOW,
      ...(idempotency && { idempotency }),
    });
    expect(outcome).toBeUndefined();
    expect(sent).toHaveLength(1);
    expectSnapshot(name, sent[0]!);
  });
});
