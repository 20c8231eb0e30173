// A rule that both TypeScript and SQL must apply is written once, as a Condition over a
// row's columns, and compiled three ways: a predicate over a row in memory, a Prisma
// `where`, and a SQL fragment. The three must agree on every row, NULLs included (a
// comparison with NULL holds in none of them), and test/domain/flow-run-queue.test.ts
// checks that they do on both databases.
import { Prisma } from '../database/generated/prisma/client.js';

/** A point in time relative to the request's `now`: `{ fromNow: -1000 }` is a second before it. */
export interface Instant {
  fromNow: number;
}

export type Condition =
  | { column: string; is: '='; value: string }
  | { column: string; is: 'in'; value: readonly string[] }
  | { column: string; is: '<=' | '>'; value: Instant }
  | { column: string; is: 'null' }
  | { all: readonly Condition[] }
  | { any: readonly Condition[] };

export const NOW: Instant = { fromNow: 0 };

export const equals = (column: string, value: string): Condition => ({ column, is: '=', value });
export const oneOf = (column: string, value: readonly string[]): Condition => ({ column, is: 'in', value });
export const atOrBefore = (column: string, value: Instant): Condition => ({ column, is: '<=', value });
export const after = (column: string, value: Instant): Condition => ({ column, is: '>', value });
export const isNull = (column: string): Condition => ({ column, is: 'null' });
export const all = (...conditions: Condition[]): Condition => ({ all: conditions });
export const any = (...conditions: Condition[]): Condition => ({ any: conditions });

const instant = (value: Instant, now: Date) => new Date(now.getTime() + value.fromNow);

type Row = Readonly<Record<string, unknown>>;
type Predicate = (row: Row, now: Date) => boolean;

/**
 * The condition as a predicate over a row in memory, built once: it runs for every run a
 * reader shows (a run's status), so the condition is not walked again on each call.
 */
export function predicateOf(condition: Condition): Predicate {
  if ('all' in condition) {
    const parts = condition.all.map(predicateOf);
    return (row, now) => parts.every((part) => part(row, now));
  }
  if ('any' in condition) {
    const parts = condition.any.map(predicateOf);
    return (row, now) => parts.some((part) => part(row, now));
  }
  const { column } = condition;
  const columnOf = (row: Row) => (Object.hasOwn(row, column) ? row[column] : undefined);
  switch (condition.is) {
    case 'null':
      return (row) => columnOf(row) === null;
    case '=': {
      const expected = condition.value;
      return (row) => columnOf(row) === expected;
    }
    case 'in': {
      const expected = new Set<unknown>(condition.value);
      return (row) => expected.has(columnOf(row));
    }
    default: {
      const { fromNow } = condition.value;
      const atOrBefore = condition.is === '<=';
      return (row, now) => {
        const value = columnOf(row);
        if (!(value instanceof Date)) return false;
        const bound = now.getTime() + fromNow;
        return atOrBefore ? value.getTime() <= bound : value.getTime() > bound;
      };
    }
  }
}

/** The same condition as a Prisma `where` (the subset src/database/flow-run-reads.ts compiles). */
export function whereOf(condition: Condition, now: Date): Record<string, unknown> {
  if ('all' in condition) return { AND: condition.all.map((each) => whereOf(each, now)) };
  if ('any' in condition) return { OR: condition.any.map((each) => whereOf(each, now)) };
  if (condition.is === 'null') return { [condition.column]: null };
  if (condition.is === '=') return { [condition.column]: condition.value };
  if (condition.is === 'in') return { [condition.column]: { in: [...condition.value] } };
  return { [condition.column]: { [condition.is === '<=' ? 'lte' : 'gt']: instant(condition.value, now) } };
}

// Literals are the rules' own constants, never a client's input; a quote in one is a bug.
function literal(value: string): Prisma.Sql {
  if (!/^[A-Za-z_]+$/.test(value)) throw new Error(`not a plain literal: ${value}`);
  return Prisma.raw(`'${value}'`);
}

/**
 * The same condition as SQL over the columns of `alias` (none: unqualified). Constants are
 * inlined as literals, so that PostgreSQL can match a partial index's predicate (ON
 * CONFLICT's arbiter must); instants are parameters.
 */
export function sqlOf(condition: Condition, now: Date, alias?: string): Prisma.Sql {
  const joined = (conditions: readonly Condition[], operator: string) =>
    Prisma.sql`(${Prisma.join(
      conditions.map((each) => sqlOf(each, now, alias)),
      operator,
    )})`;
  if ('all' in condition) return joined(condition.all, ' AND ');
  if ('any' in condition) return joined(condition.any, ' OR ');
  const column = Prisma.raw(alias ? `${alias}."${condition.column}"` : `"${condition.column}"`);
  if (condition.is === 'null') return Prisma.sql`${column} IS NULL`;
  if (condition.is === '=') return Prisma.sql`${column} = ${literal(condition.value)}`;
  if (condition.is === 'in') {
    return condition.value.length ? Prisma.sql`${column} IN (${Prisma.join(condition.value.map(literal))})` : Prisma.sql`FALSE`;
  }
  return Prisma.sql`${column} ${Prisma.raw(condition.is)} ${instant(condition.value, now)}::timestamptz`;
}
