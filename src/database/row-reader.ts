// A read that bypasses Prisma: one statement, rows as arrays, on either database. The
// hand-written read paths (src/database/flow-run-reads.ts) use it where Prisma's query
// building and result mapping cost more than the statement itself.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { PREPARED_STATEMENTS_PER_CONNECTION } from './prepared-statements.js';

/** Runs one statement; each row comes back as an array of its columns' values. */
export interface RowReader {
  (text: string, values: unknown[]): Promise<unknown[][]>;
  /** How many statement names it remembers (PostgreSQL's reader; tests). */
  rememberedStatementNames?(): number;
}

/** Counts the statement as Prisma's query log would (statement metrics, tests). */
type OnQuery = ((sql: string, params: string) => void) | undefined;

/** Runs a statement inside a span of its own (tracing, when it is on). */
export type StatementTracer = <T>(text: string, run: () => Promise<T>) => Promise<T>;

// Process-wide, as Prisma's own instrumentation is: tracing registers it when it starts
// (src/observability/tracing-sdk.ts) and removes it when it stops; off, a statement runs
// without a wrapper.
let statementTracer: StatementTracer | undefined;

export function traceStatements(tracer: StatementTracer | undefined): void {
  statementTracer = tracer;
}

const traced = <T>(text: string, run: () => Promise<T>): Promise<T> => (statementTracer ? statementTracer(text, run) : run());

const TIMESTAMPTZ = 1184;
const defaultTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ, 'text');

/**
 * `2026-01-01 10:00:00.123+00` read as the ISO string it nearly is, checked by position:
 * every row carries timestamps, and the driver's general parser (BC years, infinity) and a
 * regular expression each showed in a page's profile (docs/BENCHMARKS.md). Anything else
 * goes to the general parser.
 */
export function parseTimestamptz(text: string): Date {
  const length = text.length;
  // The offset: `+HH` or `+HH:MM` at the end, after `YYYY-MM-DD HH:MM:SS[.f…]`.
  const shortOffset = text[length - 3];
  const longOffset = text[length - 6];
  const offsetAt =
    shortOffset === '+' || shortOffset === '-'
      ? length - 3
      : (longOffset === '+' || longOffset === '-') && text[length - 3] === ':'
        ? length - 6
        : -1;
  if (offsetAt < 19 || text[10] !== ' ' || text[4] !== '-' || text[13] !== ':' || (offsetAt > 19 && text[19] !== '.')) {
    return defaultTimestamptz(text) as Date;
  }
  const iso = `${text.slice(0, 10)}T${text.slice(11, offsetAt)}${text.slice(offsetAt)}${offsetAt === length - 3 ? ':00' : ''}`;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? (defaultTimestamptz(text) as Date) : date;
}
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ && format !== 'binary' ? parseTimestamptz : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export function postgresRowReader(pool: pg.Pool, onQuery: OnQuery): RowReader {
  // Named statements keep their plans per connection, as Prisma's do, and as many as
  // src/database/prepared-statements.ts lets a connection keep. Remembered by text, so that
  // a read does not hash its text again.
  const names = new LRUCache<string, string>({ max: PREPARED_STATEMENTS_PER_CONNECTION });
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name) {
      name = `r${createHash('sha1').update(text).digest('base64url')}`;
      names.set(text, name);
    }
    return name;
  };
  const read = async (text: string, values: unknown[]) => {
    onQuery?.(text, JSON.stringify(values));
    const result = await traced(text, () => pool.query<unknown[]>({ name: nameOf(text), text, values, rowMode: 'array', types }));
    return result.rows;
  };
  return Object.assign(read, { rememberedStatementNames: () => names.size });
}

interface PGliteLike {
  query<Row>(text: string, values?: unknown[], options?: { rowMode?: 'array' | 'object' }): Promise<{ rows: Row[] }>;
}

export function embeddedRowReader(pglite: PGliteLike, onQuery: OnQuery): RowReader {
  return async (text, values) => {
    onQuery?.(text, JSON.stringify(values));
    return (await traced(text, () => pglite.query<unknown[]>(text, values, { rowMode: 'array' }))).rows;
  };
}
