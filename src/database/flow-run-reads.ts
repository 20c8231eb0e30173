// Reading runs with their flow and thread as one plain join, instead of through Prisma.
//
// Why (docs/BENCHMARKS.md, "Where the time goes"): for a page of runs Prisma sends a
// `LEFT JOIN LATERAL (… JSONB_BUILD_OBJECT …)` per relation and per row, which PostgreSQL
// runs several times slower than a plain join, and its client spends more CPU building the
// query and mapping the rows than the service spends on the rest of the request. The read
// paths of the run lists and of a run by id take the same arguments Prisma's `findMany`
// would (the GraphQL layer's selection, the domain's `where`, the lists' order and paging),
// compile the subset those produce into one statement, and return rows shaped as Prisma
// returns them. Arguments outside that subset go to Prisma unchanged, so the meaning of a
// read is always Prisma's; test/database/flow-run-reads.test.ts compares the two.
//
// Tenant scope lives here as in the scoped client: every statement is confined to the
// organization it was built for, the joined flow and thread included.
import { Prisma, type FlowRun } from './generated/prisma/client.js';
import type { RowReader } from './row-reader.js';
import type { TenantClient } from './tenant.js';

type Direction = 'asc' | 'desc';

export interface FlowRunReadArgs {
  select?: Record<string, unknown>;
  where?: Prisma.FlowRunWhereInput;
  orderBy?: Prisma.FlowRunOrderByWithRelationInput | Prisma.FlowRunOrderByWithRelationInput[];
  cursor?: Prisma.FlowRunWhereUniqueInput;
  take?: number;
  skip?: number;
}

/** A compiled read: one statement, and how its array rows become Prisma-shaped objects. */
export interface CompiledRead {
  text: string;
  values: unknown[];
  assemble(rows: unknown[][]): Record<string, unknown>[];
}

// `sequence` (a BigInt in Prisma, a string from the drivers) is left to Prisma.
const RUN_COLUMNS = new Set<string>(Object.values(Prisma.FlowRunScalarFieldEnum).filter((column) => column !== 'sequence'));
/** Columns that are never NULL: the only ones an order or a cursor may use here. */
const ORDERABLE = new Set(['id', 'flowId', 'messageThreadId', 'status', 'cost', 'createdAt', 'updatedAt']);
const RELATIONS = {
  flow: { table: 'Flow', alias: 'f', key: 'flowId', columns: Object.values(Prisma.FlowScalarFieldEnum) as string[] },
  messageThread: {
    table: 'MessageThread',
    alias: 't',
    key: 'messageThreadId',
    columns: Object.values(Prisma.MessageThreadScalarFieldEnum) as string[],
  },
} as const;
type Relation = keyof typeof RELATIONS;

/** The arguments use something this compiler does not translate: Prisma reads them instead. */
class NotCompiled extends Error {}

const quote = (column: string) => `"${column}"`;
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !(value instanceof Date) && !Array.isArray(value);

class Parameters {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const COMPARISONS: Record<string, string> = { equals: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' };

function columnCondition(column: string, filter: unknown, params: Parameters): string {
  const target = `r.${quote(column)}`;
  if (filter === null) return `${target} IS NULL`;
  if (!isPlainObject(filter)) return `${target} = ${params.add(filter)}`;
  const parts: string[] = [];
  for (const [operator, operand] of Object.entries(filter)) {
    if (operand === undefined) continue;
    if (operator === 'in' && Array.isArray(operand)) {
      // One placeholder per value (not `= ANY($n)`): both drivers bind scalars alike, and
      // the few list lengths make few statement shapes.
      parts.push(operand.length ? `${target} IN (${operand.map((value) => params.add(value)).join(', ')})` : 'FALSE');
      continue;
    }
    const comparison = COMPARISONS[operator];
    if (!comparison) throw new NotCompiled(`operator ${operator}`);
    parts.push(operand === null && operator === 'equals' ? `${target} IS NULL` : `${target} ${comparison} ${params.add(operand)}`);
  }
  return parts.length ? parts.join(' AND ') : 'TRUE';
}

function whereCondition(where: Prisma.FlowRunWhereInput | undefined, params: Parameters): string {
  if (!where) return 'TRUE';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(where)) {
    if (value === undefined) continue;
    if (key === 'OR') {
      if (!Array.isArray(value)) throw new NotCompiled('OR of an object');
      parts.push(value.length ? `(${value.map((each) => whereCondition(each, params)).join(' OR ')})` : 'FALSE');
    } else if (key === 'AND') {
      const all = (Array.isArray(value) ? value : [value]) as Prisma.FlowRunWhereInput[];
      parts.push(`(${all.map((each) => whereCondition(each, params)).join(' AND ') || 'TRUE'})`);
    } else if (RUN_COLUMNS.has(key)) {
      parts.push(columnCondition(key, value, params));
    } else {
      throw new NotCompiled(`where.${key}`);
    }
  }
  return parts.length ? parts.join(' AND ') : 'TRUE';
}

function orderPairs(orderBy: FlowRunReadArgs['orderBy']): [string, Direction][] {
  const list = orderBy === undefined ? [] : Array.isArray(orderBy) ? orderBy : [orderBy];
  return list.map((entry) => {
    const pairs = Object.entries(entry);
    const [pair] = pairs;
    if (pairs.length !== 1 || !pair) throw new NotCompiled('an orderBy entry of several fields');
    const [column, direction] = pair;
    if (!ORDERABLE.has(column) || (direction !== 'asc' && direction !== 'desc')) throw new NotCompiled(`orderBy ${column}`);
    return [column, direction];
  });
}

const flip = (direction: Direction): Direction => (direction === 'asc' ? 'desc' : 'asc');

/**
 * Rows at or after the cursor row in the order (Prisma's cursor is inclusive; the caller's
 * `skip: 1` steps over it). With every key in one direction this is a row comparison,
 * which PostgreSQL can start an index scan from.
 */
function cursorCondition(order: [string, Direction][], cursorAlias: string): string {
  const left = order.map(([column]) => `r.${quote(column)}`);
  const right = order.map(([column]) => `${cursorAlias}.${quote(column)}`);
  if (order.every(([, direction]) => direction === order[0]?.[1])) {
    return `(${left.join(', ')}) ${order[0]?.[1] === 'asc' ? '>=' : '<='} (${right.join(', ')})`;
  }
  const alternatives = order.map(([, direction], index) => {
    const equal = left.slice(0, index).map((column, before) => `${column} = ${right[before]}`);
    return [...equal, `${left[index]} ${direction === 'asc' ? '>' : '<'} ${right[index]}`].join(' AND ');
  });
  const allEqual = left.map((column, index) => `${column} = ${right[index]}`).join(' AND ');
  return `(${[...alternatives, allEqual].map((part) => `(${part})`).join(' OR ')})`;
}

/** Compiles a `findMany` of runs, or returns undefined when Prisma must read it. */
export function compileFlowRunRead(organizationId: string, args: FlowRunReadArgs): CompiledRead | undefined {
  try {
    return compile(organizationId, args);
  } catch (error) {
    if (error instanceof NotCompiled) return undefined;
    throw error;
  }
}

function compile(organizationId: string, args: FlowRunReadArgs): CompiledRead {
  const { select, where, cursor, take, skip } = args;
  if (!select) throw new NotCompiled('no select (every column, sequence included)');
  const params = new Parameters();
  const organization = params.add(organizationId);

  // Selected columns, in the order the assembler reads them back.
  const columns: string[] = [];
  const runFields: string[] = [];
  const relations: { name: Relation; first: number }[] = [];
  const joins: string[] = [];
  for (const [field, wanted] of Object.entries(select)) {
    if (wanted === false || wanted === undefined) continue;
    if (RUN_COLUMNS.has(field) && wanted === true) {
      runFields.push(field);
      continue;
    }
    if (field in RELATIONS && wanted === true) {
      const relation = RELATIONS[field as Relation];
      relations.push({ name: field as Relation, first: -1 });
      joins.push(
        `LEFT JOIN ${quote(relation.table)} ${relation.alias} ON ${relation.alias}."id" = r.${quote(relation.key)} ` +
          `AND ${relation.alias}."organizationId" = ${organization}`,
      );
      continue;
    }
    throw new NotCompiled(`select.${field}`);
  }
  columns.push(...runFields.map((field) => `r.${quote(field)}`));
  for (const relation of relations) {
    const { alias, columns: relationColumns } = RELATIONS[relation.name];
    relation.first = columns.length;
    columns.push(...relationColumns.map((column) => `${alias}.${quote(column)}`));
  }

  let order = orderPairs(args.orderBy);
  const backwards = take !== undefined && take < 0;
  if (backwards) order = order.map(([column, direction]) => [column, flip(direction)]);

  const conditions = [`r."organizationId" = ${organization}`];
  const whereSql = whereCondition(where, params);
  if (whereSql !== 'TRUE') conditions.push(whereSql);
  let from = '"FlowRun" r';
  if (cursor) {
    const keys = Object.entries(cursor).filter(([, value]) => value !== undefined);
    const [key] = keys;
    if (keys.length !== 1 || key?.[0] !== 'id' || typeof key[1] !== 'string') throw new NotCompiled('a cursor other than { id }');
    if (order.at(-1)?.[0] !== 'id') throw new NotCompiled('a cursor on an order that does not end in id');
    // The cursor row's keys, read once; no cursor row, no rows (as Prisma answers).
    from += ` CROSS JOIN (SELECT ${order.map(([column]) => quote(column)).join(', ')} FROM "FlowRun" WHERE "id" = ${params.add(key[1])} AND "organizationId" = ${organization}) c`;
    conditions.push(cursorCondition(order, 'c'));
  }

  let text = `SELECT ${columns.join(', ') || 'r."id"'} FROM ${from} ${joins.join(' ')} WHERE ${conditions.join(' AND ')}`;
  if (order.length) text += ` ORDER BY ${order.map(([column, direction]) => `r.${quote(column)} ${direction.toUpperCase()}`).join(', ')}`;
  if (take !== undefined) text += ` LIMIT ${params.add(Math.abs(take))}`;
  if (skip) text += ` OFFSET ${params.add(skip)}`;

  return {
    text: text.replace(/\s+/g, ' '),
    values: params.values,
    assemble(rows) {
      const objects = rows.map((row) => {
        const object: Record<string, unknown> = {};
        runFields.forEach((field, index) => {
          object[field] = row[index];
        });
        for (const { name, first } of relations) {
          const relationColumns = RELATIONS[name].columns;
          if (row[first] === null) {
            object[name] = null;
            continue;
          }
          const related: Record<string, unknown> = {};
          relationColumns.forEach((column, index) => {
            related[column] = row[first + index];
          });
          object[name] = related;
        }
        return object;
      });
      return backwards ? objects.reverse() : objects;
    },
  };
}

/**
 * The tenant's reads of runs: the compiled statement where it applies, Prisma's own query
 * otherwise. Rows are typed as Prisma's: the GraphQL layer reads the fields it selected.
 */
export function flowRunReads(db: TenantClient, reader: RowReader, organizationId: string) {
  async function findMany(args: FlowRunReadArgs): Promise<FlowRun[]> {
    const compiled = compileFlowRunRead(organizationId, args);
    if (!compiled) return db.flowRun.findMany(args as Prisma.FlowRunFindManyArgs);
    return compiled.assemble(await reader(compiled.text, compiled.values)) as unknown as FlowRun[];
  }
  return {
    findMany,
    /** All the organization's runs, from the counts a database trigger keeps (a sum over at most 8 rows). */
    async countAll(): Promise<number> {
      const [row] = await reader('SELECT COALESCE(sum("count"), 0)::float8 FROM "FlowRunCount" WHERE "organizationId" = $1', [organizationId]);
      return Number(row?.[0] ?? 0);
    },
    /**
     * Several runs by id in one statement (`WHERE "id" IN (…)`), each with the columns and
     * relations of `select` (`id` always added: the answer is keyed by it). Ids of no run of
     * this organization are simply absent from the map.
     */
    async findByIds(ids: readonly string[], select: Record<string, unknown>): Promise<Map<string, FlowRun>> {
      const runs = await findMany({ select: { ...select, id: true }, where: { id: { in: [...new Set(ids)] } } });
      return new Map(runs.map((run) => [run.id, run]));
    },
  };
}

export type FlowRunReads = ReturnType<typeof flowRunReads>;
