// An input field may take fewer values of its enum than the enum has: a run is patched to
// a terminal status only, though a filter takes every status. The domain still decides
// (and says why with its own code); this lets what is read from the schema, such as the
// REST adapter's errors and the OpenAPI document, list only what can be accepted.
import type { GraphQLInputField } from 'graphql';

const KEY = 'acceptedValues';

/** The `extensions` of an input field that accepts only `values`. */
export const acceptingOnly = (values: Iterable<string>) => ({ [KEY]: [...values] });

export function acceptedValuesOf(field: GraphQLInputField | undefined): readonly string[] | undefined {
  const values = field?.extensions?.[KEY];
  return Array.isArray(values) ? values : undefined;
}
