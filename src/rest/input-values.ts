// Values checked against the GraphQL input types, with problems said in the terms of the
// JSON:API surface. GraphQL's own coercion messages name GraphQL types ('Enum
// "FlowRunStatus" cannot represent non-string value'), which a REST client has never been
// shown; the wording here comes from the type alone, never from GraphQL's message.
import {
  coerceInputValue,
  getNullableType,
  type GraphQLInputField,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { acceptedValuesOf } from '../graphql/accepted-values.js';
import { schema } from '../graphql/schema.js';

const SCALARS: Record<string, string> = {
  String: 'must be a string',
  ID: 'must be a string',
  Int: 'must be an integer from -2147483648 to 2147483647',
  Float: 'must be a number',
  Boolean: 'must be true or false',
  UUID: 'must be a UUID',
  DateTime: 'must be a date-time with a UTC offset, such as 2024-08-20T10:45:05+00:00',
  JSONObject: 'must be an object',
  JSON: 'must be a JSON value',
};

// A scalar added to the schema needs its wording here: found at start-up, not by a client.
for (const type of Object.values(schema.getTypeMap())) {
  if (isScalarType(type) && !Object.hasOwn(SCALARS, type.name)) throw new Error(`src/rest/input-values.ts: no wording for scalar ${type.name}`);
}

/** What a value of `type` must be; `field` may narrow an enum to the values it accepts. */
export function expectation(type: GraphQLInputType, field?: GraphQLInputField): string {
  const inner = getNullableType(type);
  if (isListType(inner)) return `must be an array; each item ${expectation(inner.ofType, field)}`;
  if (isEnumType(inner)) {
    const values = acceptedValuesOf(field) ?? inner.getValues().map((value) => value.name);
    return `must be one of ${values.join(', ')}`;
  }
  if (isInputObjectType(inner)) return `must be an object with the members ${Object.keys(inner.getFields()).join(', ')}`;
  return scalarWording(inner.name);
}

function scalarWording(name: string): string {
  const wording = Object.hasOwn(SCALARS, name) ? SCALARS[name] : undefined;
  // The start-up check above makes this unreachable for the schema's scalars.
  if (wording === undefined) throw new Error(`src/rest/input-values.ts: no wording for scalar ${name}`);
  return wording;
}

export interface ValueProblem {
  /** Where, from the input's root: member names and array indexes. */
  path: (string | number)[];
  detail: string;
}

/** Every part of `input` that the input type refuses, each with what it must be instead. */
export function valueProblems(input: Record<string, unknown>, inputType: GraphQLInputObjectType): ValueProblem[] {
  const problems: ValueProblem[] = [];
  coerceInputValue(input, inputType, (path, value) => {
    const at = typeAt(inputType, path);
    problems.push({ path: [...path], detail: value === null ? 'must not be null' : expectation(at.type, at.field) });
  });
  return problems;
}

/** The type (and the input field it belongs to) at `path` inside `root`. */
function typeAt(root: GraphQLInputObjectType, path: readonly (string | number)[]) {
  let type: GraphQLInputType = root;
  let field: GraphQLInputField | undefined;
  for (const step of path) {
    const inner: GraphQLInputType = isNonNullType(type) ? type.ofType : type;
    const member: GraphQLInputField | undefined = isInputObjectType(inner) && typeof step === 'string' ? inner.getFields()[step] : undefined;
    if (isListType(inner)) type = inner.ofType;
    else if (member) {
      field = member;
      type = member.type;
    } else break;
  }
  return { type, field };
}
