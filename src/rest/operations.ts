// The fixed GraphQL operations the REST surface runs, built from the resource
// definitions, parsed and validated once each (one per resource, kind and include set).
import { type DocumentNode, type ExecutionResult, execute, GraphQLError, parse, validate } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { compiledOperation, executeCompiled } from '../graphql/compiled-execution.js';
import { argumentProblemOf } from '../graphql/limits.js';
import { schema } from '../graphql/schema.js';
import { isIncludable, type Payload, type ResourceDefinition, resourceOfType, actionOf, nestedListOf } from './routes.js';

export type OperationKind = 'one' | 'list' | 'create' | 'update' | 'remove' | `action:${string}` | `nested:${string}`;

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

/** The selection of a mutation's result: the resource's fields, in its payload when it has one. */
function payloadSelection(payload: Payload | undefined, fields: string): string {
  return payload ? `{ ${payload.node} ${fields} ${[...payload.flags, ...payload.meta].join(' ')} }` : fields;
}

function source(resource: ResourceDefinition, kind: OperationKind, include: string[]): string {
  const fields = selection(resource, include);
  if (kind.startsWith('nested:')) {
    const list = nestedListOf(resource, kind.slice('nested:'.length));
    return `query ($id: UUID!, $first: Int!, $offset: Int!) {
      result: ${resource.one}(id: $id) {
        id ${list.field}(first: $first, offset: $offset) { totalCount edges { node { id ${list.attributes.join(' ')} } } }
      }
    }`;
  }
  if (kind.startsWith('action:')) {
    const action = actionOf(resource, kind.slice('action:'.length));
    return `mutation ($id: UUID!) { result: ${action.mutation}(id: $id) ${payloadSelection(action.payload, fields)} }`;
  }
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
    case 'create':
      return `mutation ($input: ${resource.createInputType.name}!) {
        result: ${resource.create}(input: $input) ${payloadSelection(resource.createPayload, fields)}
      }`;
    case 'update':
      return `mutation ($id: UUID!, $input: ${resource.updateInputType.name}!) {
        result: ${resource.update}(id: $id, input: $input) ${payloadSelection(resource.updatePayload, fields)}
      }`;
    case 'remove':
      return `mutation ($id: UUID!) { result: ${resource.remove}(id: $id) { deletedId } }`;
    default:
      throw new Error(`unknown REST operation ${kind}`);
  }
}

export function operationDocument(resource: ResourceDefinition, kind: OperationKind, include: string[] = []): DocumentNode {
  const key = `${resource.type}:${kind}:${[...include].sort().join(',')}`;
  let document = cache.get(key);
  if (!document) {
    document = parse(source(resource, kind, include));
    const errors = validate(schema, document);
    if (errors.length) throw new Error(`REST operation ${key} does not fit the schema: ${errors.map((error) => error.message).join('; ')}`);
    cache.set(key, document);
  }
  return document;
}

/**
 * Runs around each operation, named as GraphQL's executions are (`query.flowRuns.list`):
 * tracing's span, when tracing is on. Without one, operations run as they are.
 */
export type AroundOperation = <T>(name: string, run: () => Promise<T>) => Promise<T>;

export async function runOperation(
  resource: ResourceDefinition,
  kind: OperationKind,
  include: string[],
  variables: Record<string, unknown>,
  context: GraphQLContext,
  around?: AroundOperation,
): Promise<ExecutionResult> {
  const document = operationDocument(resource, kind, include);
  // A list from the query string (filter[status], sort) meets the bound GraphQL's does.
  const problem = argumentProblemOf(schema, document, variables);
  if (problem) return { errors: [new GraphQLError(problem.message, { originalError: problem })] };
  // Compiled like the operations at /graphql (src/graphql/compiled-execution.ts).
  const compiled = compiledOperation(schema, document);
  const executeIt = () =>
    compiled
      ? executeCompiled(compiled, document, context, variables)
      : execute({ schema, document, variableValues: variables, contextValue: context });
  if (!around) return executeIt();
  const type = kind === 'one' || kind === 'list' || kind.startsWith('nested:') ? 'query' : 'mutation';
  return around(`${type}.${resource.type}.${kind}`, async () => executeIt());
}
