// What a single GraphQL request may ask for: the shape limits, checked while validating
// (graphql-armor); the arguments (list bounds, paging) and the cost limit, checked once
// the variables are known; all before any resolver runs. Also the operation counts for
// /metrics.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import {
  type DocumentNode,
  type ExecutionArgs,
  type FieldNode,
  type FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  type GraphQLArgument,
  GraphQLError,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLSchema,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  valueFromAST,
} from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { DomainError } from '../domain/errors.js';
import type { Metrics } from '../observability/metrics.js';
import { domainErrorToGraphQL } from './errors.js';
import { maxItemsOf, pagingProblem } from './types/lists.js';

export const QUERY_LIMITS = {
  maxDepth: 10,
  maxAliases: 15,
  maxTokens: 2_000,
  maxDirectives: 20,
  maxCost: 5_000,
};

/** A connection's page: `default` items without `first`/`last`, never more than `max` (a larger value is capped). */
export const PAGE_SIZE = { default: 25, max: 100 } as const;

// Armor's refusals carry no code of their own: each gets ours as armor reports it, so a
// client can tell "too big" from a typo in its query.
const coded = {
  onReject: [
    (_context: unknown, error: GraphQLError) => {
      Object.assign(error.extensions, { code: 'QUERY_LIMIT_EXCEEDED' });
    },
  ],
};

export function queryLimits(schema: GraphQLSchema): Plugin[] {
  const armor = new EnvelopArmor({
    maxDepth: { n: QUERY_LIMITS.maxDepth, ignoreIntrospection: true, ...coded },
    maxAliases: { n: QUERY_LIMITS.maxAliases, ...coded },
    maxTokens: { n: QUERY_LIMITS.maxTokens, ...coded },
    maxDirectives: { n: QUERY_LIMITS.maxDirectives, ...coded },
    // Armor's estimate multiplies by a page size written into the query but not by one
    // passed in a variable, and grows by half per level: it refused the largest page
    // written inline and let nested pages through in variables. `costLimit` below replaces it.
    costLimit: { enabled: false },
    // Introspection is open to key holders; hiding field suggestions would only hinder them.
    blockFieldSuggestion: { enabled: false },
  });
  return [...(armor.protect().plugins as Plugin[]), beforeExecution, batchCostLimit(schema), refuseEmptyBatch, refuseUnreadableParameters];
}

/**
 * What an operation would cost to answer, with these variables: every field costs 1 each
 * time it is resolved, and so does every item of a list in its arguments (a status filter,
 * an order). A connection resolves its `edges` once per item of its page: the
 * `first`/`last` argument, whether written into the query or passed in a variable (so both
 * cost the same), PAGE_SIZE.default without one, and never more than PAGE_SIZE.max, the
 * most a page holds. Any other list of objects is weighed as a full page. Introspection
 * (`__schema`, `__type`) costs nothing. `undefined` when the operation cannot run as sent
 * (no such operation, variables of the wrong type): execution reports that by itself.
 *
 * So the cost is about what the answer holds. The largest page a client may ask for, 100
 * runs with every scalar of the run, of its flow and of its thread, plus the totals and
 * pageInfo, costs 3,008; a page of 100 flows with a page of 100 runs each costs 40,401.
 */
export function queryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variableValues?: Readonly<Record<string, unknown>> | null,
  operationName?: string | null,
): number | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const variables = coercedVariables(schema, operation, variableValues).coerced;
  return variables && operationCost(schema, document, operation, variables);
}

type Variables = Record<string, unknown>;

/** The operation's variables as its resolvers get them (`coerced`), or the first reason they cannot be (`errors`). */
function coercedVariables(schema: GraphQLSchema, operation: OperationDefinitionNode, values?: Readonly<Variables> | null) {
  return getVariableValues(schema, operation.variableDefinitions ?? [], values ?? {}, { maxErrors: 1 });
}

function fragmentsOf(document: DocumentNode) {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

/** The field's definition on its parent type, if the parent has fields and this is one. */
function definitionOf(parentType: GraphQLNamedType | undefined, field: FieldNode): GraphQLField<unknown, unknown> | undefined {
  if (!parentType || !(isObjectType(parentType) || isInterfaceType(parentType))) return undefined;
  return parentType.getFields()[field.name.value];
}

/**
 * The field's arguments with these variables, as its resolver would get them: given ones
 * and defaults. One that cannot be read (validation or coercion reports it) is left out.
 */
function argumentsOf(field: FieldNode, definition: GraphQLField<unknown, unknown>, variables: Variables) {
  const values = new Map<GraphQLArgument, unknown>();
  for (const argument of definition.args) {
    const node = field.arguments?.find((given) => given.name.value === argument.name);
    const value = node ? valueFromAST(node.value, argument.type, variables) : argument.defaultValue;
    if (value !== undefined) values.set(argument, value);
  }
  return values;
}

/**
 * Calls `visit` for every list in an argument's value, with the argument or input field
 * that holds it and its path from the input's root (a mutation's `input` argument is that
 * root, as the domain names its members; any other argument is named by its own name).
 * Returns the first non-undefined answer of `visit`, which stops the walk.
 */
function eachList<T>(
  argument: GraphQLArgument,
  value: unknown,
  visit: (items: readonly unknown[], owner: GraphQLArgument | GraphQLInputField, path: string[]) => T | undefined,
): T | undefined {
  const walk = (item: unknown, type: GraphQLInputType, owner: GraphQLArgument | GraphQLInputField, path: string[]): T | undefined => {
    if (item == null) return undefined;
    const inner = getNullableType(type);
    if (isListType(inner) && Array.isArray(item)) {
      const answer = visit(item, owner, path);
      if (answer !== undefined) return answer;
      // Items are walked only for the input objects they may hold: enums and scalars hold no list.
      if (!isInputObjectType(getNamedType(inner))) return undefined;
      for (const element of item) {
        const found = walk(element, inner.ofType, owner, path);
        if (found !== undefined) return found;
      }
    } else if (isInputObjectType(inner) && typeof item === 'object') {
      for (const field of Object.values(inner.getFields())) {
        const found = walk((item as Variables)[field.name], field.type, field, [...path, field.name]);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  return walk(value, argument.type, argument, argument.name === 'input' ? [] : [argument.name]);
}

/** How many items the lists in a field's arguments hold in all. */
function argumentItems(field: FieldNode, definition: GraphQLField<unknown, unknown>, variables: Variables): number {
  if (!field.arguments?.length) return 0;
  let items = 0;
  for (const [argument, value] of argumentsOf(field, definition, variables)) {
    eachList(argument, value, (list) => {
      items += list.length;
    });
  }
  return items;
}

function operationCost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Variables) {
  const rootType = schema.getRootType(operation.operation);
  if (!rootType) return undefined;
  const fragments = fragmentsOf(document);
  // A fragment costs the same wherever it is spread (given the page it may be spread into);
  // remembering it keeps fragments that spread others several times from costing
  // exponential time to weigh.
  const fragmentCosts = new Map<string, number>();

  /** The page of a connection field: its first/last (the larger if both), capped. */
  const pageOf = (field: FieldNode, definition: GraphQLField<unknown, unknown>): number => {
    let size: number | undefined;
    for (const [argument, value] of argumentsOf(field, definition, variables)) {
      if ((argument.name === 'first' || argument.name === 'last') && typeof value === 'number') size = Math.max(size ?? 0, value);
    }
    return Math.min(Math.max(size ?? PAGE_SIZE.default, 0), PAGE_SIZE.max);
  };

  function selectionSetCost(set: SelectionSetNode, parentType: GraphQLNamedType, page?: number): number {
    let cost = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        cost += fieldCost(selection, parentType, page);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parentType;
        cost += selectionSetCost(selection.selectionSet, type ?? parentType, page);
      } else {
        const key = `${selection.name.value}@${page ?? ''}`;
        let fragmentCost = fragmentCosts.get(key);
        if (fragmentCost === undefined) {
          fragmentCosts.set(key, 0); // a cycle (refused by validation anyway) adds nothing
          const fragment = fragments.get(selection.name.value);
          const type = fragment && schema.getType(fragment.typeCondition.name.value);
          fragmentCost = fragment && type ? selectionSetCost(fragment.selectionSet, type, page) : 0;
          fragmentCosts.set(key, fragmentCost);
        }
        cost += fragmentCost;
      }
    }
    return cost;
  }

  /** `page`: the page of the connection whose selection this field is in, if any. */
  function fieldCost(field: FieldNode, parentType: GraphQLNamedType, page?: number): number {
    const name = field.name.value;
    if (name === '__schema' || name === '__type') return 0;
    const definition = definitionOf(parentType, field);
    if (!definition) return 1;
    const items = argumentItems(field, definition, variables);
    if (!field.selectionSet) return 1 + items;
    const type = getNamedType(definition.type);
    const times = isListType(getNullableType(definition.type)) ? (page ?? PAGE_SIZE.max) : 1;
    const paged = definition.args.some((argument) => argument.name === 'first' || argument.name === 'last');
    const innerPage = paged ? pageOf(field, definition) : undefined;
    return times * (1 + items + selectionSetCost(field.selectionSet, type, innerPage));
  }

  return selectionSetCost(operation.selectionSet, rootType);
}

/**
 * Why the operation's arguments cannot be taken, with these (coerced) variables, or
 * undefined: a list longer than its argument or input field's bound (`atMost` in
 * types/lists.ts), or paging arguments a connection cannot combine. Every field of the
 * operation is looked at, in fragments too, before anything runs: a nested list's
 * arguments would otherwise be read while its parent is loaded.
 */
function argumentProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Variables,
): DomainError | undefined {
  const fragments = fragmentsOf(document);
  const seenFragments = new Set<string>();

  function inSelectionSet(set: SelectionSetNode, parentType: GraphQLNamedType | undefined): DomainError | undefined {
    for (const selection of set.selections) {
      let problem: DomainError | undefined;
      if (selection.kind === Kind.FIELD) {
        problem = inField(selection, parentType);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parentType;
        problem = inSelectionSet(selection.selectionSet, type);
      } else if (!seenFragments.has(selection.name.value)) {
        // A fragment's arguments are the same wherever it is spread.
        seenFragments.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) problem = inSelectionSet(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
      }
      if (problem) return problem;
    }
    return undefined;
  }

  function inField(field: FieldNode, parentType: GraphQLNamedType | undefined): DomainError | undefined {
    const definition = definitionOf(parentType, field);
    if (!definition) return undefined;
    if (definition.args.length) {
      const values = argumentsOf(field, definition, variables);
      for (const [argument, value] of values) {
        const problem = eachList(argument, value, (items, owner, path) => {
          const bound = maxItemsOf(owner);
          if (bound === undefined || items.length <= bound) return undefined;
          return listTooLong(path, bound, items.length);
        });
        if (problem) return problem;
      }
      if (definition.args.some((argument) => argument.name === 'first' || argument.name === 'last')) {
        const paging = Object.fromEntries([...values].map(([argument, value]) => [argument.name, value]));
        const problem = pagingProblem(paging);
        if (problem) return problem;
      }
    }
    return field.selectionSet ? inSelectionSet(field.selectionSet, getNamedType(definition.type)) : undefined;
  }

  return inSelectionSet(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined);
}
function listTooLong(path: string[], bound: number, items: number) {
  const name = path.join('.');
  return new DomainError('VALIDATION_FAILED', `${name}: must have at most ${bound} items, not ${items}`, path);
}

/**
 * The arguments of an operation the service runs itself (the REST adapter's), checked as
 * those sent to /graphql are: the first problem, or undefined. Variables that cannot be
 * coerced are left to execution to report.
 */
export function argumentProblemOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  variableValues: Readonly<Variables>,
  operationName?: string,
): DomainError | undefined {
  const operation = getOperationAST(document, operationName);
  const variables = operation && coercedVariables(schema, operation, variableValues).coerced;
  return operation && variables ? argumentProblem(schema, document, operation, variables) : undefined;
}

// Checked once the variables are known, which validation is not (and its results are
// cached per document): the refusal cannot depend on how a list or a page size was written.
const beforeExecution: Plugin = {
  onExecute({ args, setResultAndStopExecution }) {
    const refusal = refusalOf(args);
    if (refusal) setResultAndStopExecution({ errors: [refusal] });
  },
  onSubscribe({ args, setResultAndStopExecution }) {
    const refusal = refusalOf(args);
    if (refusal) setResultAndStopExecution({ errors: [refusal] });
  },
};

function refusalOf({ schema, document, variableValues, operationName }: ExecutionArgs): GraphQLError | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const coerced = coercedVariables(schema, operation, variableValues);
  // GraphQL words what is wrong with a variable but gives it no code: it gets the one
  // every other refused value has.
  if (coerced.errors) return withCode(coerced.errors[0] ?? new GraphQLError('a variable is not valid'), 'VALIDATION_FAILED');
  const variables = coerced.coerced;
  const problem = argumentProblem(schema, document, operation, variables);
  if (problem) return domainErrorToGraphQL(problem);
  const cost = operationCost(schema, document, operation, variables);
  if (cost === undefined || cost <= QUERY_LIMITS.maxCost) return undefined;
  return costLimitExceeded(
    `this operation costs ${cost} (every field counts once per time it is resolved, a connection's edges once per item of its page, ` +
      'and every item of a list argument once). Ask for smaller pages or fewer nested lists.',
  );
}

const withCode = (error: GraphQLError, code: string) =>
  new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...error.extensions, code },
  });

const costLimitExceeded = (why: string) =>
  createGraphQLError(`Query cost limit of ${QUERY_LIMITS.maxCost} exceeded: ${why}`, {
    extensions: { code: 'COST_LIMIT_EXCEEDED', http: { status: 400 } },
  });

/**
 * A batch is one request: its operations' costs add up against the one limit, so ten
 * operations each within it cannot ask for ten times as much. Weighed as the request is
 * parsed, before any of them runs. An operation that cannot be parsed or weighed adds
 * nothing here: it is refused on its own.
 */
function batchCostLimit(schema: GraphQLSchema): Plugin {
  return {
    onRequestParse: () => ({
      onRequestParseDone({ requestParserResult }) {
        if (!Array.isArray(requestParserResult) || requestParserResult.length < 2) return;
        const costs = requestParserResult.map((params) => batchedOperationCost(schema, params) ?? 0);
        const total = costs.reduce((sum, cost) => sum + cost, 0);
        if (total > QUERY_LIMITS.maxCost) {
          throw costLimitExceeded(
            `this batch of ${costs.length} operations costs ${total} in all (${costs.join(' + ')}); the limit is for the whole request. ` +
              'Send fewer operations at once, or ask for smaller pages.',
          );
        }
      },
    }),
  };
}

function batchedOperationCost(schema: GraphQLSchema, params: unknown): number | undefined {
  const { query, variables, operationName } = (params ?? {}) as { query?: unknown; variables?: unknown; operationName?: unknown };
  if (typeof query !== 'string') return undefined;
  let document: DocumentNode;
  try {
    // The same token limit as the operation's own parse, so weighing it costs no more.
    document = parse(query, { maxTokens: QUERY_LIMITS.maxTokens });
  } catch {
    return undefined;
  }
  const values = variables && typeof variables === 'object' && !Array.isArray(variables) ? (variables as Variables) : undefined;
  return queryCost(schema, document, values, typeof operationName === 'string' ? operationName : undefined);
}

// Yoga limits the size of a batch but answers an empty one with an empty array.
const refuseEmptyBatch: Plugin = {
  onRequestParse: () => ({
    onRequestParseDone({ requestParserResult }) {
      if (Array.isArray(requestParserResult) && requestParserResult.length === 0) {
        throw createGraphQLError('An empty batch: send at least one operation.', {
          extensions: { http: { status: 400 }, code: 'BAD_REQUEST' },
        });
      }
    },
  }),
};

// Yoga reads a GET request's `variables` and `extensions` with JSON.parse and lets its
// SyntaxError through, which is masked as the service's own fault: it is the client's,
// as a POST body that is not JSON is.
const refuseUnreadableParameters: Plugin = {
  onRequestParse({ request, requestParser, setRequestParser }) {
    if (request.method !== 'GET' || !requestParser) return;
    setRequestParser(async (incoming) => {
      try {
        return await requestParser(incoming);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        throw createGraphQLError('The variables or extensions parameter of a GET request is not JSON.', {
          extensions: { http: { status: 400 }, code: 'BAD_REQUEST' },
        });
      }
    });
  },
};

// The label is the first root field: a name from the schema, never one a client chose.
function firstRootField(operation: OperationDefinitionNode | null | undefined): string {
  if (!operation) return 'unknown';
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind === 'Field' && !selection.name.value.startsWith('__')) return selection.name.value;
  }
  return 'introspection';
}

export function countOperations(metrics: Metrics): Plugin {
  return {
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      const labels = { type: operation?.operation ?? 'unknown', field: firstRootField(operation) };
      return {
        onExecuteDone({ result }) {
          const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
          metrics.graphqlOperations.inc({ ...labels, outcome: failed ? 'error' : 'ok' });
        },
      };
    },
  };
}
