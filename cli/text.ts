/**
 * Words for a person: counts with their nouns.
 *
 * @module
 */

/**
 * A count and its noun, singular or plural as the count asks.
 *
 * @param count How many.
 * @param one The noun for one.
 * @param many The noun for any other count; default `one` + "s".
 * @returns E.g. `1 open connection`, `4 open connections`.
 */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
