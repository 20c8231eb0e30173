// The fixed GraphQL operations the REST surface runs, built from the resource
// definitions, parsed and validated once each (one per resource, kind and include set).
import { type DocumentNode, type ExecutionResult, execute, parse, validate } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { schema } from '../graphql/schema.js';
import { isIncludable, type ResourceDefinition, resourceOfType } from './routes.js';

export type OperationKind = 'one' | 'list' | 'create' | 'update' | 'remove';

const cache = new Map<string, DocumentNode>();

function selection(resource: ResourceDefinition, include: string[]): string {
  const nested = resource.relationships
    .filter(isIncludable)
    .filter((relationship) => include.includes(relationship.name))
    .map((relationship) => {
      const target = resourceOfType(relationship.include.type);
      return `${relationship.include.field} { id ${target.attributes.join(' ')} }`;
    });
  return `{ id ${resource.attributes.join(' ')} ${nested.join(' ')} }`;
}

function source(resource: ResourceDefinition, kind: OperationKind, include: string[]): string {
  const fields = selection(resource, include);
  switch (kind) {
    case 'one':
      return `query ($id: UUID!) { result: ${resource.one}(id: $id) ${fields} }`;
    case 'list': {
      const types = resource.listArgTypes;
      const filter = resource.filterType ? `$filter: ${types.filter}, ` : '';
      const filterArg = resource.filterType ? 'filter: $filter, ' : '';
      const orderType = types.orderBy;
      const unfiltered = resource.hasUnfilteredCount ? 'totalUnfilteredCount' : '';
      return `query (${filter}$orderBy: ${orderType}, $first: Int!, $offset: Int!) {
        result: ${resource.list}(${filterArg}orderBy: $orderBy, first: $first, offset: $offset) {
          totalCount ${unfiltered} edges { node ${fields} }
        }
      }`;
    }
    case 'create': {
      const payload = resource.createPayload;
      const result = payload ? `{ ${payload.node} ${fields} ${payload.flags.join(' ')} }` : fields;
      return `mutation ($input: ${resource.createInputType.name}!) { result: ${resource.create}(input: $input) ${result} }`;
    }
    case 'update':
      return `mutation ($id: UUID!, $input: ${resource.updateInputType.name}!) {
        result: ${resource.update}(id: $id, input: $input) ${fields}
      }`;
    case 'remove':
      return `mutation ($id: UUID!) { result: ${resource.remove}(id: $id) { id } }`;
  }
}

export function operationDocument(resource: ResourceDefinition, kind: OperationKind, include: string[] = []): DocumentNode {
  const key = `${resource.type}:${kind}:${[...include].sort().join(',')}`;
  let document = cache.get(key);
  if (!document) {
    document = parse(source(resource, kind, include));
    const errors = validate(schema, document);
    if (errors.length) throw new Error(`REST operation ${key} does not fit the schema: ${errors[0].message}`);
    cache.set(key, document);
  }
  return document;
}

export async function runOperation(
  resource: ResourceDefinition,
  kind: OperationKind,
  include: string[],
  variables: Record<string, unknown>,
  context: GraphQLContext,
): Promise<ExecutionResult> {
  return execute({
    schema,
    document: operationDocument(resource, kind, include),
    variableValues: variables,
    contextValue: context,
  });
}
