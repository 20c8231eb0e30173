// GraphQL types as JSON Schema: scalars and enums, output types as JSON:API renders them
// (DateTime as `…+00:00`), input types as the adapter accepts them (an enum narrowed to
// the values a field accepts).
import {
  getNamedType,
  getNullableType,
  type GraphQLInputField,
  type GraphQLInputType,
  GraphQLNonNull,
  type GraphQLOutputType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';
import { acceptedValuesOf } from '../../graphql/accepted-values.js';
import { schema } from '../../graphql/schema.js';
import type { ResourceDefinition } from '../routes.js';
import type { Schema } from './components.js';

const TIMESTAMP_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\+00:00$';

export const described = (schema: Schema, description?: string | null) => (description ? { ...schema, description } : schema);

/** A GraphQL scalar or enum as JSON Schema (JSON:API renders DateTime as `…+00:00`). */
function leafSchema(name: string, asRendered: boolean): Schema {
  const type = schema.getType(name);
  if (isEnumType(type)) return { type: 'string', enum: type.getValues().map((value) => value.name) };
  switch (name) {
    case 'UUID':
      return { type: 'string', format: 'uuid' };
    case 'DateTime':
      return asRendered ? { type: 'string', pattern: TIMESTAMP_PATTERN } : { type: 'string', format: 'date-time' };
    case 'JSONObject':
      return { type: 'object' };
    case 'JSON':
      return {};
    case 'Int':
      return { type: 'integer' };
    case 'Float':
      return { type: 'number' };
    case 'Boolean':
      return { type: 'boolean' };
    case 'String':
    case 'ID':
      return { type: 'string' };
  }
  if (isScalarType(type)) return {};
  throw new Error(`no JSON Schema for GraphQL type ${name}`);
}

function nullable(schema: Schema): Schema {
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  if (Object.keys(schema).length === 0) return schema;
  return { oneOf: [schema, { type: 'null' }] };
}

export const stripNull = (schema: Schema): Schema =>
  Array.isArray(schema.type) ? { ...schema, type: (schema.type as string[]).find((type) => type !== 'null') } : schema;

export function outputSchema(type: GraphQLOutputType): Schema {
  const inner = getNullableType(type);
  const result = isListType(inner) ? { type: 'array', items: outputSchema(inner.ofType) } : leafSchema(getNamedType(inner).name, true);
  return isNonNullType(type) ? result : nullable(result);
}

export function inputSchema(type: GraphQLInputType): Schema {
  const inner = getNullableType(type);
  let result: Schema;
  if (isListType(inner)) result = { type: 'array', items: inputSchema(inner.ofType) };
  else if (isInputObjectType(inner)) result = inputObjectSchema(Object.values(inner.getFields()));
  else result = leafSchema(getNamedType(inner).name, false);
  return isNonNullType(type) ? result : nullable(result);
}

/** `acceptsNull` decides a field's nullability where the input type's does not (see routes.ts). */
export function inputObjectSchema(fields: GraphQLInputField[], acceptsNull?: (field: GraphQLInputField) => boolean): Schema {
  const required = fields.filter((field) => isNonNullType(field.type) && field.defaultValue === undefined).map((field) => field.name);
  const fieldSchema = (field: GraphQLInputField) => {
    const accepted = acceptedValuesOf(field);
    const inner = getNullableType(field.type);
    const strict = accepted && isEnumType(inner) ? { type: 'string', enum: [...accepted] } : inputSchema(new GraphQLNonNull(inner));
    return (acceptsNull ? acceptsNull(field) : !isNonNullType(field.type)) ? nullable(strict) : strict;
  };
  return {
    type: 'object',
    properties: Object.fromEntries(fields.map((field) => [field.name, described(fieldSchema(field), field.description)])),
    ...(required.length && { required }),
    additionalProperties: false,
  };
}

export function graphqlFields(resource: ResourceDefinition) {
  const type = schema.getType(resource.graphqlType);
  if (!isObjectType(type)) throw new Error(`no object type ${resource.graphqlType}`);
  return type.getFields();
}

/** A field the resource definition names: a missing one is a mistake in routes.ts, said at start-up. */
export function fieldNamed<Field>(fields: Record<string, Field>, name: string, owner: string): Field {
  const field = fields[name];
  if (!field) throw new Error(`${owner} has no field ${name}`);
  return field;
}
