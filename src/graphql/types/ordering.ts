import { builder } from '../builder.js';

export const OrderDirection = builder.enumType('OrderDirection', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

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
