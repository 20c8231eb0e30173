// Indexed reads that fail where the item is missing, naming it, rather than as a TypeError
// on `undefined` a few lines on (the tests and benchmarks compile with noUncheckedIndexedAccess).

/** The item at `index` (a negative index counts from the end); throws when there is none. */
export function at<T>(items: readonly T[], index: number, what = 'item'): T {
  const item = items.at(index);
  if (item === undefined) throw new Error(`expected a ${what} at index ${index}, but there are ${items.length}`);
  return item;
}

/** The one item; throws when there are none or several. */
export function only<T>(items: readonly T[], what = 'item'): T {
  const [item] = items;
  if (item === undefined || items.length !== 1) throw new Error(`expected exactly one ${what}, but there are ${items.length}`);
  return item;
}

/** A value that must be there (a map's entry, a regular expression's group); throws naming it when it is not. */
export function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}, but it is undefined`);
  return value;
}

/** A tuple of `N` items: each index up to N - 1 is an item, not `undefined`. */
export type Tuple<T, N extends number, Items extends T[] = []> = Items['length'] extends N ? Items : Tuple<T, N, [...Items, T]>;

/** The items as a tuple of `count`; throws when there are not exactly that many. */
export function exactly<T, N extends number>(items: readonly T[], count: N, what = 'items'): Tuple<T, N> {
  if (items.length !== count) throw new Error(`expected ${count} ${what}, but there are ${items.length}`);
  return [...items] as Tuple<T, N>;
}

/** A group of the first match of `pattern` in `text` (the first group unless given); throws when there is none. */
export function captured(pattern: RegExp, text: string, group = 1): string {
  const match = pattern.exec(text);
  if (!match) throw new Error(`expected ${pattern} to match ${JSON.stringify(text.slice(0, 200))}`);
  return at(match, group, `group ${group} of ${pattern}`);
}
