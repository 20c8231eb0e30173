// The benchmark's dataset: one organization with 200 flows, 5,000 message threads and
// 50,000 runs, from a fixed seed so that every run measures the same data. It is shaped
// like production data rather than like a fixture (`npm run bench -- --runs N` seeds N runs
// on the same flows and threads):
//   - runs land on threads at random over time, so the newest runs belong to many
//     threads (a thread's runs are not consecutive in createdAt);
//   - every run has a `state` of five keys, one of them a nested array (~150 bytes);
//   - runs on WhatsApp threads (about one in four) opened with a WhatsApp template
//     `initialMessage`, the others with none (`{}`);
//   - about 10% of the runs are `running`: at most one per thread (the thread's newest
//     unfinished run), with `queued` runs only behind a running one — the service's queue
//     invariant; the rest are in terminal states.
// Rows go in as one JSON parameter per few thousand rows (jsonb_to_recordset), which
// both drivers pass the same way.
import { createHash } from 'node:crypto';
import type { Database } from '../src/database/client.js';
import { createApiKey, createOrganization } from '../src/domain/organizations.js';
import { at } from '../test/support/items.js';

export interface DatasetSize {
  flows: number;
  threads: number;
  runs: number;
}

export const FULL: DatasetSize = { flows: 200, threads: 5_000, runs: 50_000 };
export const SMOKE: DatasetSize = { flows: 20, threads: 200, runs: 2_000 };

const SEED = 20261125;
/** Share of the threads whose newest runs are still going (one running, maybe some queued). */
const ACTIVE_THREADS = 0.95;

/** mulberry32: small, fast and good enough to pick statuses and names reproducibly. */
export function random(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UUID v4 derived from a label, so ids are the same in every run. */
export function uuidFrom(label: string): string {
  const hex = createHash('sha256').update(label).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'.charAt(parseInt(hex.charAt(16), 16) % 4)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** An item drawn with the generator. */
function pick<T>(next: () => number, items: readonly T[]): T {
  return at(items, Math.floor(next() * items.length));
}

const TERMINAL = ['finished', 'finished', 'finished', 'timeout', 'cancelled', 'exception'] as const;
const FIRST_NAMES = ['Henk', 'Fatima', 'Joost', 'Anouk', 'Mohammed', 'Sanne', 'Daan', 'Lotte', 'Yusuf', 'Emma', 'Bram', 'Noor'];
const LANGUAGES = ['nl', 'en', 'de', 'fr', 'ar', 'tr'];
const STEPS = ['intro', 'screening_q1', 'screening_q2', 'screening_q3', 'planning', 'confirmation'];
const QUESTIONS: [string, string[]][] = [
  ['availability', ['weekdays', 'weekends', 'evenings', 'full-time']],
  ['experience', ['none', 'under 1 year', '1-3 years', '3+ years']],
  ['license', ['yes', 'no']],
  ['start', ['immediately', 'in 2 weeks', 'next month']],
];
const TEMPLATE_IDS = Array.from({ length: 12 }, (_, i) => uuidFrom(`template-${i}`));
const FLOW_NAMES = ['Screening', 'Interview planning', 'Reminder', 'Onboarding', 'Feedback', 'Re-engagement', 'Document check'];
const CHANNELS = ['whatsapp', 'sms', 'email', 'web'] as const;
export type Channel = (typeof CHANNELS)[number];

/** A run's session variables: five keys, one a nested array of answers (~150 bytes as JSON). */
export function makeState(next: () => number): Record<string, unknown> {
  const answers = Array.from({ length: 1 + Math.floor(next() * 3) }, () => {
    const [q, options] = pick(next, QUESTIONS);
    return { q, a: pick(next, options) };
  });
  return {
    first_name: pick(next, FIRST_NAMES),
    language: pick(next, LANGUAGES),
    step: pick(next, STEPS),
    answers,
    score: Math.floor(next() * 100),
  };
}

/** The opening message WhatsApp allows a business: an approved template with its parameters. */
export function makeTemplateMessage(next: () => number, firstName: string): Record<string, unknown> {
  return {
    type: 'template',
    template: {
      id: pick(next, TEMPLATE_IDS),
      components: [{ type: 'body', parameters: [{ type: 'text', text: `Hi ${firstName}, thanks for applying! Shall we plan a call?` }] }],
    },
  };
}

/** What a run on a thread of this channel opens with: a template on WhatsApp, nothing elsewhere. */
export function makeInitialMessage(next: () => number, channel: Channel, state: Record<string, unknown>) {
  return channel === 'whatsapp' ? makeTemplateMessage(next, String(state.first_name)) : {};
}

export interface Seeded {
  apiKey: string;
  organizationId: string;
  runIds: string[];
  threadIds: string[];
  /** The channel of each thread of threadIds (same index). */
  threadChannels: Channel[];
  flowIds: string[];
  /** What the data looks like, as generated (printed by the bench, kept in its results). */
  summary: DatasetSummary;
}

export interface DatasetSummary {
  flows: number;
  threads: number;
  runs: number;
  byStatus: Record<string, number>;
  withTemplateMessage: number;
  meanStateBytes: number;
  /** Distinct threads among the newest 25 / 100 runs. */
  threadsInNewest25: number;
  threadsInNewest100: number;
  /** The longest stretch of consecutive runs (by createdAt) that belong to one thread. */
  longestSameThreadStretch: number;
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

interface RunRow {
  id: string;
  flowId: string;
  thread: number;
  status: string;
  cost: number;
  state: Record<string, unknown>;
  initialMessage: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export async function seedDataset(db: Database, size: DatasetSize): Promise<Seeded> {
  const next = random(SEED);
  const organization = await createOrganization(db.prisma, 'Benchmark organization');
  const apiKey = await createApiKey(db.prisma, organization.id, 'write');
  const org = organization.id;
  const base = Date.parse('2026-01-01T00:00:00Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  const farFuture = iso(Date.parse('2100-01-01T00:00:00Z'));

  const flowIds = Array.from({ length: size.flows }, (_, i) => uuidFrom(`flow-${i}`));
  await insertRows(
    db,
    'Flow',
    [
      ['id', 'uuid'],
      ['organizationId', 'uuid'],
      ['name', 'text'],
      ['sessionTimeout', 'int'],
      ['reminderInterval', 'int'],
      ['reminderMessage', 'text'],
      ['publishedAt', 'timestamptz'],
      ['createdAt', 'timestamptz'],
      ['updatedAt', 'timestamptz'],
    ],
    flowIds.map((id, i) => {
      const createdAt = base - (size.flows - i) * 3_600_000;
      const reminder = next() < 0.5;
      return [
        id,
        org,
        `${FLOW_NAMES[i % FLOW_NAMES.length]} ${Math.floor(i / FLOW_NAMES.length) + 1}`,
        pick(next, [60, 240, 1440, 2880]),
        reminder ? 60 : null,
        reminder ? 'Are you still there? Reply to continue.' : null,
        iso(createdAt + 600_000),
        iso(createdAt),
        iso(createdAt + 600_000),
      ];
    }),
  );

  const threadIds = Array.from({ length: size.threads }, (_, i) => uuidFrom(`thread-${i}`));
  const threadChannels = threadIds.map((_, i) => at(CHANNELS, i % CHANNELS.length));
  await insertRows(
    db,
    'MessageThread',
    [
      ['id', 'uuid'],
      ['organizationId', 'uuid'],
      ['channel', '"Channel"'],
      ['identifier', 'text'],
      ['candidateId', 'uuid'],
      ['createdAt', 'timestamptz'],
      ['updatedAt', 'timestamptz'],
    ],
    threadIds.map((id, i) => {
      const channel = at(threadChannels, i);
      const identifier = channel === 'email' ? `candidate${i}@example.com` : channel === 'web' ? `visitor-${i}` : String(31600000000 + i);
      const createdAt = iso(base - (size.threads - i) * 60_000);
      return [id, org, channel, identifier, next() < 0.7 ? uuidFrom(`candidate-${i}`) : null, createdAt, createdAt];
    }),
  );

  // Runs in createdAt order, each on a thread drawn at random: a minute or so apart.
  const runs: RunRow[] = [];
  const runsOfThread: number[][] = threadIds.map(() => []);
  let time = base;
  for (let n = 0; n < size.runs; n++) {
    time += 1_000 + Math.floor(next() * 120_000);
    const thread = Math.floor(next() * size.threads);
    const state = makeState(next);
    runs.push({
      id: uuidFrom(`run-${n}`),
      flowId: pick(next, flowIds),
      thread,
      status: pick(next, TERMINAL),
      cost: Math.floor(next() * 60),
      state,
      initialMessage: makeInitialMessage(next, at(threadChannels, thread), state),
      createdAt: time,
      updatedAt: time + Math.floor(next() * 3_600_000),
    });
    at(runsOfThread, thread).push(n);
  }
  // The queue of each active thread: its newest runs are one running and 0–2 queued
  // behind it (oldest first, as the service promotes them); everything older is over.
  for (const indexes of runsOfThread) {
    if (indexes.length === 0 || next() >= ACTIVE_THREADS) continue;
    const roll = next();
    const queued = Math.min(roll < 0.8 ? 0 : roll < 0.95 ? 1 : 2, indexes.length - 1);
    const running = at(runs, at(indexes, -1 - queued));
    running.status = 'running';
    running.updatedAt = running.createdAt;
    for (const index of indexes.slice(indexes.length - queued)) {
      const run = at(runs, index);
      Object.assign(run, { status: 'queued', cost: 0, updatedAt: run.createdAt });
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
      ['state', 'jsonb'],
      ['initialMessage', 'jsonb'],
      ['status', '"FlowRunStatus"'],
      ['cost', 'int'],
      ['sequence', 'bigint'],
      ['createdAt', 'timestamptz'],
      ['updatedAt', 'timestamptz'],
      ['expiresAt', 'timestamptz'],
    ],
    runs.map((run, n) => [
      run.id,
      org,
      run.flowId,
      threadIds[run.thread],
      run.state,
      run.initialMessage,
      run.status,
      run.cost,
      n + 1,
      iso(run.createdAt),
      iso(run.updatedAt),
      run.status === 'running' ? farFuture : null,
    ]),
  );
  // The sequence was given explicitly (insertion order = createdAt order): new runs go after.
  await db.sql.query(`SELECT setval(pg_get_serial_sequence('"FlowRun"', 'sequence'), $1::bigint)`, [Math.max(1, size.runs)]);
  await db.sql.exec('ANALYZE');

  return {
    apiKey,
    organizationId: org,
    runIds: runs.map((run) => run.id),
    threadIds,
    threadChannels,
    flowIds,
    summary: summarize(size, runs),
  };
}

function summarize(size: DatasetSize, runs: RunRow[]): DatasetSummary {
  const byStatus: Record<string, number> = {};
  let stateBytes = 0;
  let withTemplateMessage = 0;
  let longest = 0;
  let stretch = 0;
  runs.forEach((run, n) => {
    byStatus[run.status] = (byStatus[run.status] ?? 0) + 1;
    stateBytes += JSON.stringify(run.state).length;
    if (run.initialMessage.type === 'template') withTemplateMessage++;
    stretch = runs[n - 1]?.thread === run.thread ? stretch + 1 : 1;
    longest = Math.max(longest, stretch);
  });
  const newest = (count: number) => new Set(runs.slice(-count).map((run) => run.thread)).size;
  return {
    ...size,
    byStatus,
    withTemplateMessage,
    meanStateBytes: Math.round(stateBytes / Math.max(1, runs.length)),
    threadsInNewest25: newest(25),
    threadsInNewest100: newest(100),
    longestSameThreadStretch: longest,
  };
}
