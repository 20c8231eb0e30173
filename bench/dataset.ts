// The benchmark's dataset: one organization with 200 flows, 5,000 threads and 50,000
// runs across every status, from a fixed seed so that every run measures the same data.
// Rows go in as one JSON parameter per few thousand rows (jsonb_to_recordset), which
// both drivers pass the same way.
import { createHash } from 'node:crypto';
import type { Database } from '../src/database/client.js';
import { createApiKey, createOrganization } from '../src/domain/organizations.js';

export interface DatasetSize {
  flows: number;
  threads: number;
  runsPerThread: number;
}

export const FULL: DatasetSize = { flows: 200, threads: 5_000, runsPerThread: 10 };
export const SMOKE: DatasetSize = { flows: 20, threads: 200, runsPerThread: 10 };

/** mulberry32: small, fast and good enough to pick statuses and names reproducibly. */
function random(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UUID v4 derived from a label, so ids are the same in every run. */
function uuidFrom(label: string): string {
  const hex = createHash('sha256').update(label).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[parseInt(hex[16], 16) % 4]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const TERMINAL = ['finished', 'finished', 'finished', 'timeout', 'cancelled', 'exception'];

export interface Seeded {
  apiKey: string;
  organizationId: string;
  runIds: string[];
  threadIds: string[];
  flowIds: string[];
}

async function insertRows(db: Database, table: string, columns: [string, string][], rows: unknown[][]) {
  const CHUNK = 5_000;
  const names = columns.map(([name]) => `"${name}"`).join(', ');
  const shape = columns.map(([name, type]) => `"${name}" ${type}`).join(', ');
  for (let start = 0; start < rows.length; start += CHUNK) {
    const chunk = rows.slice(start, start + CHUNK).map((row) => Object.fromEntries(columns.map(([name], i) => [name, row[i]])));
    await db.sql.query(`INSERT INTO "${table}" (${names}) SELECT ${names} FROM jsonb_to_recordset($1::jsonb) AS x(${shape})`, [
      JSON.stringify(chunk),
    ]);
  }
}

export async function seedDataset(db: Database, size: DatasetSize): Promise<Seeded> {
  const next = random(20261125);
  const organization = await createOrganization(db.prisma, 'Benchmark organization');
  const apiKey = await createApiKey(db.prisma, organization.id, 'write');
  const org = organization.id;
  const base = Date.parse('2026-01-01T00:00:00Z');
  const farFuture = new Date('2100-01-01T00:00:00Z').toISOString();

  const flowIds = Array.from({ length: size.flows }, (_, i) => uuidFrom(`flow-${i}`));
  await insertRows(
    db,
    'Flow',
    [['id', 'uuid'], ['organizationId', 'uuid'], ['name', 'text'], ['sessionTimeout', 'int']],
    flowIds.map((id, i) => [id, org, `Flow ${i}`, 1440]),
  );

  const channels = ['whatsapp', 'sms', 'email', 'web'];
  const threadIds = Array.from({ length: size.threads }, (_, i) => uuidFrom(`thread-${i}`));
  await insertRows(
    db,
    'MessageThread',
    [['id', 'uuid'], ['organizationId', 'uuid'], ['channel', '"Channel"'], ['identifier', 'text']],
    threadIds.map((id, i) => {
      const channel = channels[i % channels.length];
      const identifier =
        channel === 'email' ? `candidate${i}@example.com` : channel === 'web' ? `visitor-${i}` : String(31600000000 + i);
      return [id, org, channel, identifier];
    }),
  );

  const runs: unknown[][] = [];
  let n = 0;
  for (const threadId of threadIds) {
    // Half the threads end with one running run and one queued behind it.
    const active = next() < 0.5;
    for (let j = 0; j < size.runsPerThread; j++) {
      const last = j === size.runsPerThread - 1;
      const secondLast = j === size.runsPerThread - 2;
      const status = active && secondLast ? 'running' : active && last ? 'queued' : TERMINAL[Math.floor(next() * TERMINAL.length)];
      const createdAt = new Date(base + n * 1000).toISOString();
      runs.push([
        uuidFrom(`run-${n}`),
        org,
        flowIds[Math.floor(next() * flowIds.length)],
        threadId,
        status,
        Math.floor(next() * 60),
        createdAt,
        createdAt,
        status === 'running' ? farFuture : null,
      ]);
      n++;
    }
  }
  await insertRows(
    db,
    'FlowRun',
    [
      ['id', 'uuid'],
      ['organizationId', 'uuid'],
      ['flowId', 'uuid'],
      ['messageThreadId', 'uuid'],
      ['status', '"FlowRunStatus"'],
      ['cost', 'int'],
      ['createdAt', 'timestamptz'],
      ['updatedAt', 'timestamptz'],
      ['expiresAt', 'timestamptz'],
    ],
    runs,
  );
  await db.sql.exec('ANALYZE');
  return { apiKey, organizationId: org, runIds: runs.map((row) => row[0] as string), threadIds, flowIds };
}
