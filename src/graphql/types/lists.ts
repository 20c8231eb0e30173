// What every list and delete in the schema shares: ordering inputs with a tie-break,
// offset paging beside cursors, and the `{ id }` a delete answers with.
import { builder } from '../builder.js';

export const OrderDirection = builder.enumType('OrderDirection', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

/** `<Model>OrderField` (the sortable fields) and `<Model>Order` (a field and a direction). */
export function orderInput<Field extends string>(model: string, fields: readonly Field[]) {
  const OrderField = builder.enumType(`${model}OrderField`, { values: fields });
  return builder.inputType(`${model}Order`, {
    fields: (t) => ({
      field: t.field({ type: OrderField, required: true }),
      direction: t.field({ type: OrderDirection, required: true }),
    }),
  });
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
  const last = pairs[pairs.length - 1].direction;
  return [...pairs.map(({ field, direction }) => ({ [field]: direction }) as Record<Field, 'asc' | 'desc'>), { id: last }];
}

/** Page-number paging (the JSON:API surface uses it) on top of a cursor connection. */
export const offsetArgDescription = (things: string) =>
  `Skip this many ${things} (page-number paging); not combinable with cursors.`;
export const skipOffset = (offset: number | null | undefined) => (offset != null ? { skip: Math.max(0, offset) } : {});

/** What a delete answers with: the id of what is gone. */
export const deletedType = (name: string) =>
  builder.objectRef<{ id: string }>(name).implement({
    fields: (t) => ({ id: t.expose('id', { type: 'UUID' }) }),
  });
