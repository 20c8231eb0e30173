// The OpenAPI 3.1 description of the JSON:API surface, generated from what the adapter
// itself serves: the resource definitions of routes.ts (paths, methods, relationships,
// filters, sort fields, header inputs) and the GraphQL types they are read from
// (attributes and their types, writable attributes, enums, descriptions). Nothing here
// is a hand-kept list of attributes or routes: a field added to the schema shows up.
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
import { ERROR_CODES } from '../domain/errors.js';
import { acceptedValuesOf } from '../graphql/accepted-values.js';
import { schema } from '../graphql/schema.js';
import type { HttpErrorCode } from './errors.js';
import { JSON_API } from './media-type.js';
import { MAX_OFFSET } from '../graphql/types/lists.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './query-params.js';
import { ALLOWED_METHODS, BASE_PATH, isIncludable, RESOURCES, type ResourceDefinition, resourceOfType } from './routes.js';

type Schema = Record<string, unknown>;

export const OPENAPI_PATH = `${BASE_PATH}/openapi.json`;

const HTTP_ERROR_CODES: Record<HttpErrorCode, true> = {
  MALFORMED_JSON: true,
  INVALID_QUERY_PARAMETER: true,
  ROUTE_NOT_FOUND: true,
  METHOD_NOT_ALLOWED: true,
  NOT_ACCEPTABLE: true,
  UNSUPPORTED_MEDIA_TYPE: true,
  PAYLOAD_TOO_LARGE: true,
  RESOURCE_TYPE_MISMATCH: true,
  RESOURCE_ID_MISMATCH: true,
  CLIENT_GENERATED_ID_UNSUPPORTED: true,
  RATE_LIMITED: true,
  REQUEST_TIMEOUT: true,
  INTERNAL_SERVER_ERROR: true,
};

const TIMESTAMP_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\+00:00$';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const pascal = (type: string) => type[0].toUpperCase() + type.slice(1);
const described = (schema: Schema, description?: string | null) => (description ? { ...schema, description } : schema);

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

function outputSchema(type: GraphQLOutputType): Schema {
  const inner = getNullableType(type);
  const result = isListType(inner) ? { type: 'array', items: outputSchema(inner.ofType) } : leafSchema(getNamedType(inner).name, true);
  return isNonNullType(type) ? result : nullable(result);
}

function inputSchema(type: GraphQLInputType): Schema {
  const inner = getNullableType(type);
  let result: Schema;
  if (isListType(inner)) result = { type: 'array', items: inputSchema(inner.ofType) };
  else if (isInputObjectType(inner)) result = inputObjectSchema(Object.values(inner.getFields()));
  else result = leafSchema(getNamedType(inner).name, false);
  return isNonNullType(type) ? result : nullable(result);
}

/** `acceptsNull` decides a field's nullability where the input type's does not (see routes.ts). */
function inputObjectSchema(fields: GraphQLInputField[], acceptsNull?: (field: GraphQLInputField) => boolean): Schema {
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

function graphqlFields(resource: ResourceDefinition) {
  const type = schema.getType(resource.graphqlType);
  if (!isObjectType(type)) throw new Error(`no object type ${resource.graphqlType}`);
  return type.getFields();
}

/** The schemas of one resource: its resource object, documents and request documents. */
function resourceSchemas(resource: ResourceDefinition): Record<string, Schema> {
  const name = resource.graphqlType;
  const fields = graphqlFields(resource);
  const includable = resource.relationships.filter(isIncludable);
  const relationship = (definition: (typeof resource.relationships)[number]) => {
    const related = { type: ['string', 'null'], description: 'A relative link to the related resource(s).' };
    const linkage = definition.include
      ? {
          data: {
            description: 'Present when the relationship is included.',
            oneOf: [
              {
                type: 'object',
                properties: { type: { const: definition.include.type }, id: { type: 'string', format: 'uuid' } },
                required: ['type', 'id'],
              },
              { type: 'null' },
            ],
          },
        }
      : {};
    return {
      type: 'object',
      properties: { links: { type: 'object', properties: { related }, required: ['related'] }, ...linkage },
      required: ['links'],
    };
  };
  const included = includable.map((definition) => ref(`${resourceOfType(definition.include.type).graphqlType}Resource`));
  const includedSchema = included.length
    ? { included: { type: 'array', description: 'The resources named by `include`, each once.', items: { oneOf: included } } }
    : {};
  const writable = (names: string[], inputType: ResourceDefinition['createInputType']) =>
    inputObjectSchema(
      Object.values(inputType.getFields()).filter((field) => names.includes(field.name)),
      (field) => resource.nullableAttributes.has(field.name),
    );

  return {
    [`${name}Attributes`]: {
      type: 'object',
      description: fieldsDescription(resource),
      properties: Object.fromEntries(
        resource.attributes.map((attribute) => [attribute, described(outputSchema(fields[attribute].type), fields[attribute].description)]),
      ),
    },
    [`${name}Resource`]: {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        type: { const: resource.type },
        attributes: ref(`${name}Attributes`),
        relationships: {
          type: 'object',
          properties: Object.fromEntries(resource.relationships.map((definition) => [definition.name, relationship(definition)])),
        },
      },
      required: ['id', 'type'],
    },
    [`${name}Document`]: {
      type: 'object',
      properties: { data: ref(`${name}Resource`), meta: { type: 'object' }, ...includedSchema },
      required: ['data', 'meta'],
    },
    [`${name}ListDocument`]: {
      type: 'object',
      properties: {
        data: { type: 'array', items: ref(`${name}Resource`) },
        meta: ref('ListMeta'),
        links: ref('PaginationLinks'),
        ...includedSchema,
      },
      required: ['data', 'meta', 'links'],
    },
    [`${name}CreateDocument`]: {
      type: 'object',
      properties: {
        data: {
          type: 'object',
          properties: { type: { const: resource.type }, attributes: writable(resource.createAttributes, resource.createInputType) },
          required: ['type', 'attributes'],
        },
      },
      required: ['data'],
    },
    [`${name}UpdateDocument`]: {
      type: 'object',
      properties: {
        data: {
          type: 'object',
          properties: {
            type: { const: resource.type },
            id: { type: 'string', format: 'uuid', description: 'The id in the URL.' },
            attributes: writable(resource.updateAttributes, resource.updateInputType),
          },
          required: ['type', 'id'],
        },
      },
      required: ['data'],
    },
  };
}

const fieldsDescription = (resource: ResourceDefinition) => {
  const type = schema.getType(resource.graphqlType);
  return (isObjectType(type) && type.description) || undefined;
};

function sharedSchemas(): Record<string, Schema> {
  return {
    ListMeta: {
      type: 'object',
      properties: {
        total: { type: 'integer', description: 'Resources matching the filters.' },
        totalUnfiltered: { type: 'integer', description: 'Resources of the organization, whatever the filters.' },
        currentSize: { type: 'integer', description: 'The page size in force.' },
        currentPage: { type: 'integer' },
        maxPage: { type: 'integer', minimum: 1 },
      },
      required: ['total', 'totalUnfiltered', 'currentSize', 'currentPage', 'maxPage'],
    },
    PaginationLinks: {
      type: 'object',
      description: 'Relative links; `prev`/`next` are left out where there is no such page.',
      properties: Object.fromEntries(['self', 'first', 'prev', 'next', 'last'].map((name) => [name, { type: 'string' }])),
      required: ['self', 'first', 'last'],
    },
    ErrorObject: {
      type: 'object',
      properties: {
        status: { type: 'string', description: 'The HTTP status, as a string.' },
        code: {
          type: 'string',
          enum: [...Object.keys(ERROR_CODES), ...Object.keys(HTTP_ERROR_CODES)],
          description: 'Stable: the same code GraphQL reports in `extensions.code`.',
        },
        title: { type: 'string' },
        detail: { type: 'string' },
        source: {
          oneOf: [
            { type: 'object', properties: { pointer: { type: 'string' } }, required: ['pointer'], additionalProperties: false },
            { type: 'object', properties: { parameter: { type: 'string' } }, required: ['parameter'], additionalProperties: false },
            { type: 'object', properties: { header: { type: 'string' } }, required: ['header'], additionalProperties: false },
          ],
        },
      },
      required: ['status', 'code', 'title', 'detail'],
    },
    ErrorDocument: {
      type: 'object',
      properties: { errors: { type: 'array', items: ref('ErrorObject'), minItems: 1 } },
      required: ['errors'],
    },
  };
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON, an invalid or non-writable member (`source.pointer`), or an invalid query parameter (`source.parameter`).',
  401: 'No API key, or an unknown one.',
  403: 'A read-only API key on a write ("access denied"), or a client-generated id.',
  404: 'No such resource in the organization of the API key.',
  406: 'Accept allows the JSON:API media type only with parameters.',
  409: 'A rule of the domain forbids it now, or `data.type`/`data.id` do not match the endpoint.',
  413: 'The request body is larger than 1 MB.',
  415: 'The request body is not sent as the JSON:API media type without parameters.',
  422: 'A referenced flow or message thread does not exist in the organization.',
  429: 'Too many requests for this API key; see the rate-limit headers.',
  500: 'An unexpected error (never with details).',
  503: 'The database is unavailable, or the request was not answered in time.',
};

type Kind = 'list' | 'one' | 'create' | 'update' | 'remove';

const ERRORS_BY_KIND: Record<Kind, number[]> = {
  list: [400, 401, 406, 429, 500, 503],
  one: [400, 401, 404, 406, 429, 500, 503],
  create: [400, 401, 403, 406, 409, 413, 415, 422, 429, 500, 503],
  update: [400, 401, 403, 404, 406, 409, 413, 415, 422, 429, 500, 503],
  remove: [400, 401, 403, 404, 406, 409, 429, 500, 503],
};

function parameter(name: string, schema: Schema, description?: string | null, where = 'query') {
  return { name, in: where, required: where === 'path', schema, ...(description && { description }) };
}

function queryParameters(resource: ResourceDefinition, kind: Kind): Schema[] {
  if (kind === 'remove') return [];
  const includableRelationships = resource.relationships.filter(isIncludable);
  const includable = includableRelationships.map((relationship) => relationship.name);
  const types = [resource, ...includableRelationships.map((relationship) => resourceOfType(relationship.include.type))];
  const parameters: Schema[] = [];
  if (includable.length) {
    parameters.push(
      parameter(
        'include',
        { type: 'string', pattern: `^(${includable.join('|')})(,(${includable.join('|')}))*$` },
        `Comma-separated relationships to include: ${includable.join(', ')}.`,
      ),
    );
  }
  for (const type of types) {
    const names = [...type.attributes, ...type.relationships.map((relationship) => relationship.name)];
    parameters.push(
      parameter(`fields[${type.type}]`, { type: 'string' }, `Sparse fieldset of ${type.type}: comma-separated, from ${names.join(', ')}.`),
    );
  }
  if (kind !== 'list') return parameters;
  for (const field of Object.values(resource.filterType?.getFields() ?? {})) {
    const type = getNullableType(field.type);
    if (isListType(type)) {
      // A list filter takes comma-separated values (filter[status]=running,queued).
      const item = stripNull(inputSchema(type.ofType));
      const values = Array.isArray(item.enum) ? `: any of ${item.enum.join(', ')}` : '';
      parameters.push(parameter(`filter[${field.name}]`, { type: 'string' }, `Comma-separated${values}. ${field.description ?? ''}`.trim()));
    } else {
      parameters.push(parameter(`filter[${field.name}]`, stripNull(inputSchema(field.type)), field.description));
    }
  }
  if (resource.sortFields.length) {
    const fields = resource.sortFields.join('|');
    parameters.push(
      parameter(
        'sort',
        { type: 'string', pattern: `^-?(${fields})(,-?(${fields}))*$`, default: '-createdAt' },
        `Comma-separated fields, \`-\` for descending: ${resource.sortFields.join(', ')}.`,
      ),
    );
  }
  parameters.push(
    parameter(
      'page[number]',
      { type: 'integer', minimum: 1, default: 1 },
      `From 1, up to the page whose offset, (page[number] − 1) × page[size], is ${MAX_OFFSET}.`,
    ),
  );
  parameters.push(parameter('page[size]', { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }));
  return parameters;
}

const stripNull = (schema: Schema): Schema =>
  Array.isArray(schema.type) ? { ...schema, type: (schema.type as string[]).find((type) => type !== 'null') } : schema;

const jsonApi = (schema: Schema) => ({ content: { [JSON_API]: { schema } } });

function errorResponses(kind: Kind) {
  return Object.fromEntries(ERRORS_BY_KIND[kind].map((status) => [String(status), { $ref: `#/components/responses/Error${status}` }]));
}

function operation(resource: ResourceDefinition, kind: Kind, path: string, canonical: boolean): Schema {
  const name = resource.graphqlType;
  const graphql = { list: resource.list, one: resource.one, create: resource.create, update: resource.update, remove: resource.remove }[kind];
  const suffix = canonical ? '' : `_${path.replace(/\W/g, '_')}`;
  const summaries: Record<Kind, string> = {
    list: `List ${resource.type}`,
    one: `Get one of ${resource.type}`,
    create: `Create one of ${resource.type}`,
    update: `Update one of ${resource.type}`,
    remove: `Delete one of ${resource.type}`,
  };
  const rootType = kind === 'list' || kind === 'one' ? schema.getQueryType() : schema.getMutationType();
  const description = rootType?.getFields()[graphql]?.description;
  const parameters = [
    ...(kind === 'one' || kind === 'update' || kind === 'remove' ? [parameter('id', { type: 'string', format: 'uuid' }, undefined, 'path')] : []),
    ...queryParameters(resource, kind),
    ...(kind === 'create'
      ? Object.entries(resource.createHeaders ?? {}).map(([field, header]) => {
          const input = resource.createInputType.getFields()[field];
          return parameter(header, stripNull(inputSchema(input.type)), input.description, 'header');
        })
      : []),
  ];
  const success: Record<Kind, [string, Schema]> = {
    list: ['200', { description: 'A page of resources.', ...jsonApi(ref(`${name}ListDocument`)) }],
    one: ['200', { description: 'The resource.', ...jsonApi(ref(`${name}Document`)) }],
    create: [
      '201',
      {
        description: 'Created.',
        headers: {
          Location: { description: 'The path of the new resource.', schema: { type: 'string' } },
          ...Object.fromEntries(
            Object.entries(resource.createResponseHeaders ?? {}).map(([flag, header]) => [
              header,
              {
                description: `\`true\` when ${flag}: ${payloadFlagDescription(resource, flag)}`,
                schema: { type: 'string', enum: ['true'] },
              },
            ]),
          ),
        },
        ...jsonApi(ref(`${name}Document`)),
      },
    ],
    update: ['200', { description: 'The updated resource.', ...jsonApi(ref(`${name}Document`)) }],
    remove: ['204', { description: 'Deleted.' }],
  };
  const [status, response] = success[kind];
  return {
    operationId: `${kind}${pascal(resource.type)}${suffix}`,
    summary: summaries[kind],
    ...(description && { description }),
    ...(!canonical && { description: `The same as ${BASE_PATH}/${resource.paths[0]} (the reference uses both spellings).` }),
    tags: [resource.type],
    parameters,
    ...(kind === 'create' && { requestBody: { required: true, ...jsonApi(ref(`${name}CreateDocument`)) } }),
    ...(kind === 'update' && { requestBody: { required: true, ...jsonApi(ref(`${name}UpdateDocument`)) } }),
    responses: { [status]: response, ...errorResponses(kind) },
  };
}

function payloadFlagDescription(resource: ResourceDefinition, flag: string): string {
  const mutation = schema.getMutationType()?.getFields()[resource.create];
  const payload = mutation && getNamedType(mutation.type);
  return (isObjectType(payload) && payload.getFields()[flag]?.description) || flag;
}

const METHOD_KIND: Record<string, Record<string, Kind>> = {
  collection: { GET: 'list', POST: 'create' },
  item: { GET: 'one', PATCH: 'update', DELETE: 'remove' },
};

export function buildOpenApiDocument(): Schema {
  const paths: Record<string, Schema> = {};
  for (const resource of RESOURCES) {
    resource.paths.forEach((segment, index) => {
      for (const [kind, suffix] of [
        ['collection', ''],
        ['item', '/{id}'],
      ] as const) {
        const path = `${BASE_PATH}/${segment}${suffix}`;
        paths[path] = Object.fromEntries(
          ALLOWED_METHODS[kind].map((method) => [method.toLowerCase(), operation(resource, METHOD_KIND[kind][method], segment, index === 0)]),
        );
      }
    });
  }
  paths[OPENAPI_PATH] = {
    get: {
      operationId: 'openApiDocument',
      summary: 'This description',
      security: [],
      responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Flow-run gateway JSON:API',
      version: 'v2',
      description:
        'JSON:API v1.1 surface of the flow-run gateway (the same rules and error codes as its GraphQL API at /graphql). ' +
        "Generated from the service's own route definitions and GraphQL types.",
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    tags: RESOURCES.map((resource) => ({ name: resource.type })),
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'The API key as the whole header value (`Authorization: <key>`), or as `Authorization: Bearer <key>`.',
        },
      },
      schemas: Object.assign({}, sharedSchemas(), ...RESOURCES.map(resourceSchemas)),
      responses: Object.fromEntries(
        Object.entries(ERROR_DESCRIPTIONS).map(([status, description]) => [`Error${status}`, { description, ...jsonApi(ref('ErrorDocument')) }]),
      ),
    },
  };
}

let cached: string | undefined;

/** The document as served (built once). */
export function openApiJson(): string {
  cached ??= JSON.stringify(buildOpenApiDocument());
  return cached;
}
