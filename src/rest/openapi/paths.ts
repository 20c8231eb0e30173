// The paths: every route and method routes.ts serves, as an operation with its parameters
// (include, sparse fieldsets, filters, sort, paging, header inputs), request body and
// responses; and the path of this document itself.
import { getNamedType, getNullableType, isListType, isObjectType } from 'graphql';
import { schema } from '../../graphql/schema.js';
import { MAX_OFFSET } from '../../graphql/types/lists.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../query-params.js';
import { ALLOWED_METHODS, BASE_PATH, isIncludable, RESOURCES, type ResourceDefinition, type Route, resourceOfType } from '../routes.js';
import { jsonApi, type OperationKind, ref, type Schema } from './components.js';
import { errorResponses } from './errors.js';
import { fieldNamed, inputSchema, stripNull } from './graphql-types.js';

export const OPENAPI_PATH = `${BASE_PATH}/openapi.json`;

const pascal = (type: string) => type.charAt(0).toUpperCase() + type.slice(1);

function parameter(name: string, schema: Schema, description?: string | null, where = 'query') {
  return { name, in: where, required: where === 'path', schema, ...(description && { description }) };
}

function queryParameters(resource: ResourceDefinition, kind: OperationKind): Schema[] {
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

function operation(resource: ResourceDefinition, kind: OperationKind, path: string, canonical: boolean): Schema {
  const name = resource.graphqlType;
  const graphql = { list: resource.list, one: resource.one, create: resource.create, update: resource.update, remove: resource.remove }[kind];
  const suffix = canonical ? '' : `_${path.replace(/\W/g, '_')}`;
  const summaries: Record<OperationKind, string> = {
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
          const input = fieldNamed(resource.createInputType.getFields(), field, resource.createInputType.name);
          return parameter(header, stripNull(inputSchema(input.type)), input.description, 'header');
        })
      : []),
  ];
  const success: Record<OperationKind, [string, Schema]> = {
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

// A resource's collection and items; its actions and nested lists are described in buildPaths.
type DescribedRoute = Extract<Route['kind'], 'collection' | 'item'>;

const METHOD_KIND: Record<DescribedRoute, Record<string, OperationKind>> = {
  collection: { GET: 'list', POST: 'create' },
  item: { GET: 'one', PATCH: 'update', DELETE: 'remove' },
};

function kindOf(route: DescribedRoute, method: string): OperationKind {
  const kind = METHOD_KIND[route][method];
  if (!kind) throw new Error(`no operation is described for ${method} on a ${route}`);
  return kind;
}

/** Every path served: each resource under each of its spellings, then this document. */
export function buildPaths(): Record<string, Schema> {
  const paths: Record<string, Schema> = {};
  for (const resource of RESOURCES) {
    resource.paths.forEach((segment, index) => {
      for (const [kind, suffix] of [
        ['collection', ''],
        ['item', '/{id}'],
      ] as const) {
        const path = `${BASE_PATH}/${segment}${suffix}`;
        paths[path] = Object.fromEntries(
          ALLOWED_METHODS[kind].map((method) => [method.toLowerCase(), operation(resource, kindOf(kind, method), segment, index === 0)]),
        );
      }
    });
  }
  for (const resource of RESOURCES) {
    const idParameter = parameter('id', { type: 'string', format: 'uuid' }, undefined, 'path');
    for (const [segment, { mutation }] of resource.actionPayloads) {
      const description = schema.getMutationType()?.getFields()[mutation]?.description;
      paths[`${BASE_PATH}/${resource.paths[0]}/{id}/${segment}`] = {
        post: {
          operationId: `${mutation}`,
          summary: `${segment} on one of ${resource.type}`,
          ...(description && { description }),
          tags: [resource.type],
          parameters: [idParameter],
          responses: {
            '200': {
              description: "The resource as the action left it; the payload's other fields in meta.",
              ...jsonApi(ref(`${resource.graphqlType}Document`)),
            },
            ...errorResponses('update'),
          },
        },
      };
    }
    for (const [segment, list] of resource.nestedListDefinitions) {
      const page = (name: string) => parameter(`page[${name}]`, { type: 'integer', minimum: 1 });
      paths[`${BASE_PATH}/${resource.paths[0]}/{id}/${segment}`] = {
        get: {
          operationId: `list${pascal(resource.type)}${pascal(segment)}`,
          summary: `List the ${segment} of one of ${resource.type}, newest first`,
          tags: [resource.type],
          parameters: [idParameter, page('number'), page('size')],
          responses: {
            '200': {
              description: `A page of ${list.type}.`,
              ...jsonApi({
                type: 'object',
                required: ['data', 'meta', 'links'],
                properties: {
                  data: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['id', 'type', 'attributes'],
                      properties: {
                        id: { type: 'string', format: 'uuid' },
                        type: { type: 'string', const: list.type },
                        attributes: { type: 'object', properties: Object.fromEntries(list.attributes.map((name) => [name, {}])) },
                      },
                    },
                  },
                  meta: { type: 'object' },
                  links: { type: 'object' },
                },
              }),
            },
            ...errorResponses('one'),
          },
        },
      };
    }
  }
  paths[OPENAPI_PATH] = {
    get: {
      operationId: 'openApiDocument',
      summary: 'This description',
      security: [],
      responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  };
  return paths;
}
