// What every list in the schema shares: one connection type per node type, ordering
// inputs with a tie-break, and offset paging beside cursors.
import type { FieldMap, ObjectFieldBuilder, ObjectRef } from '@pothos/core';
import { DomainError } from '../../domain/errors.js';
import { builder } from '../builder.js';

/**
 * What the Prisma plugin hands a connection object: `totalCount` is the count itself on a
 * related connection and a function loading it on a top-level one.
 */
type CountedConnection = { totalCount?: number | (() => number | Promise<number>) };
type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/**
 * `<Node>Connection` and `<Node>Edge`: the one connection type for a node type, shared by
 * every list of it (a top-level `t.prismaConnection` and each `t.relatedConnection`),
 * so a client writes one fragment per node type. Give it as the connection argument
 * (`t.relatedConnection('flowRuns', options, FlowRunConnection)`), with `totalCount: true`
 * or a count function in the field's options: the count field is declared here once.
 * `fields` adds connection fields that mean the same on every list of the type.
 */
export function nodeConnection<Node extends ObjectRef<Types, unknown>>(
  name: string,
  node: Node,
  fields?: (t: ObjectFieldBuilder<Types, CountedConnection>) => FieldMap,
) {
  return builder.connectionObject({
    type: node,
    name: `${name}Connection`,
    fields: (t) => ({
      totalCount: t.int({
        // Marks the field for the Prisma plugin: a page asking for the count alone loads no rows.
        extensions: { pothosPrismaTotalCount: true },
        resolve: async (connection) => {
          const { totalCount } = connection as CountedConnection;
          const count = typeof totalCount === 'function' ? await totalCount() : totalCount;
          if (count === undefined) throw new Error(`${name}Connection: the list field does not count its rows`);
          return count;
        },
      }),
      ...fields?.(t as never),
    }),
  });
}

export const OrderDirection = builder.enumType('OrderDirection', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

/** `<Model>OrderField` (the sortable fields) and `<Model>Order` (a field and a direction). */
export function orderInput<Field extends string>(model: string, fields: readonly Field[]) {
  const OrderField = builder.enumType(`${model}OrderField`, { values: fields });
  const Order = builder.inputType(`${model}Order`, {
    fields: (t) => ({
      field: t.field({ type: OrderField, required: true }),
      direction: t.field({ type: OrderDirection, required: true }),
    }),
  });
  sortableFieldCounts.set(Order, fields.length);
  return Order;
}

const sortableFieldCounts = new WeakMap<object, number>();

/**
 * The `orderBy` argument of a list of `Order`s: at most one key per sortable field (a
 * field named twice orders no differently), so the order a database is handed stays small.
 */
export function orderByArgument(Order: ReturnType<typeof orderInput>) {
  const keys = sortableFieldCounts.get(Order) ?? 0;
  return { description: `Default: newest first. At most ${keys} keys, one per field.`, extensions: atMost(keys) };
}

/**
 * Prisma orderBy for a list of (field, direction) pairs, ending with `id` so that rows
 * with equal keys keep one order across pages.
 */
export function orderByWithTieBreak<Field extends string>(
  order: readonly { field: Field; direction: 'asc' | 'desc' }[] | null | undefined,
  fallback: { field: Field; direction: 'asc' | 'desc' },
) {
  const pairs = order?.length ? order : [fallback];
  const last = pairs.at(-1)?.direction ?? fallback.direction;
  return [...pairs.map(({ field, direction }) => ({ [field]: direction }) as Record<Field, 'asc' | 'desc'>), { id: last }];
}

/**
 * The largest offset: far past any organization's rows, and small enough that the JSON:API
 * surface's (page[number] − 1) × page[size] always fits a GraphQL Int.
 */
export const MAX_OFFSET = 1_000_000_000;

/** Page-number paging (the JSON:API surface uses it) on top of a cursor connection. */
export const offsetArgDescription = (things: string) =>
  `Skip this many ${things} from the start (page-number paging, with first), 0 to ${MAX_OFFSET}; ` + 'not combinable with after, before or last.';

// ------------------------------------------------------------------- input bounds

const MAX_ITEMS = 'maxItems';

/**
 * The `extensions` of a list argument or input field that takes at most `items` items.
 * Every list a client sends has one (a test holds the schema to it); it is checked with
 * the other arguments before an operation runs (src/graphql/limits.ts), so an
 * oversized list is refused with VALIDATION_FAILED instead of reaching the database.
 */
export const atMost = (items: number) => ({ [MAX_ITEMS]: items });

/** The bound `atMost` declared on an argument or input field, if any. */
export function maxItemsOf(owner: { extensions?: Readonly<Record<string, unknown>> | null } | undefined): number | undefined {
  const items = owner?.extensions?.[MAX_ITEMS];
  return typeof items === 'number' ? items : undefined;
}

// ----------------------------------------------------------------- paging arguments

interface PagingArgs {
  first?: number | null;
  last?: number | null;
  offset?: number | null;
  after?: string | null;
  before?: string | null;
}

/**
 * Why a connection can not take these paging arguments, or undefined. Checked with the
 * other arguments before an operation runs, for every connection field in it, so that
 * each combination is refused the same way, with a code, before anything is read (the
 * connection plugin would refuse some later, with none, and a page asking only for its
 * totalCount would never have looked).
 */
export function pagingProblem({ first, last, offset, after, before }: PagingArgs): DomainError | undefined {
  for (const [name, size] of [
    ['first', first],
    ['last', last],
  ] as const) {
    if (size != null && size < 0) return new DomainError('VALIDATION_FAILED', `${name}: must be 0 or more`, [name]);
  }
  if (after != null && before != null) {
    return new DomainError('PAGING_ARGUMENTS_CONFLICT', 'after can not be combined with before: page forwards or backwards', ['before']);
  }
  if (before != null && first != null) {
    return new DomainError('PAGING_ARGUMENTS_CONFLICT', 'before can not be combined with first: page backwards with before and last', ['before']);
  }
  if (after != null && last != null) {
    return new DomainError('PAGING_ARGUMENTS_CONFLICT', 'last can not be combined with after: page forwards with after and first', ['last']);
  }
  if (offset == null) return undefined;
  // A cursor would be returned again, and `last` counts from the end: offset counts from the start.
  if (after != null || before != null || last != null) {
    return new DomainError(
      'PAGING_ARGUMENTS_CONFLICT',
      'offset can not be combined with after, before or last: page with first and offset, or with cursors',
      ['offset'],
    );
  }
  if (offset < 0 || offset > MAX_OFFSET) {
    return new DomainError('VALIDATION_FAILED', `offset: must be from 0 to ${MAX_OFFSET}`, ['offset']);
  }
  return undefined;
}

/** Prisma's `skip` for an offset. It replaces the connection's own skip past the cursor row. */
export function skipOffset(args: PagingArgs) {
  const problem = pagingProblem(args);
  if (problem) throw problem;
  return args.offset == null ? {} : { skip: args.offset };
}
