// What a single GraphQL request may ask for: the shape limits, checked while validating
// (graphql-armor), and the cost limit, checked once the variables are known; both before
// any resolver runs. Also the operation counts for /metrics.
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
  GraphQLInt,
  type GraphQLError,
  type GraphQLNamedType,
  type GraphQLSchema,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  valueFromAST,
} from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Metrics } from '../observability/metrics.js';

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

export function queryLimits(): Plugin[] {
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
  return [...(armor.protect().plugins as Plugin[]), costLimit, refuseEmptyBatch];
}

/**
 * What an operation would cost to answer, with these variables: every field costs 1 each
 * time it is resolved. A connection resolves its `edges` once per item of its page: the
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
  const rootType = operation && schema.getRootType(operation.operation);
  if (!operation || !rootType) return undefined;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variableValues ?? {}, { maxErrors: 1 });
  if (coerced.errors) return undefined;
  const variables = coerced.coerced;

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  // A fragment costs the same wherever it is spread (given the page it may be spread into);
  // remembering it keeps fragments that spread others several times from costing
  // exponential time to weigh.
  const fragmentCosts = new Map<string, number>();

  /** The page of a connection field: its first/last (the larger if both), capped. */
  const pageOf = (field: FieldNode): number | undefined => {
    let size: number | undefined;
    for (const argument of field.arguments ?? []) {
      if (argument.name.value !== 'first' && argument.name.value !== 'last') continue;
      const value = valueFromAST(argument.value, GraphQLInt, variables);
      if (typeof value === 'number') size = Math.max(size ?? 0, value);
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
    const definition = isObjectType(parentType) || isInterfaceType(parentType) ? parentType.getFields()[name] : undefined;
    if (!definition || !field.selectionSet) return 1;
    const type = getNamedType(definition.type);
    const times = isListType(getNullableType(definition.type)) ? (page ?? PAGE_SIZE.max) : 1;
    const paged = definition.args.some((argument) => argument.name === 'first' || argument.name === 'last');
    const innerPage = paged ? pageOf(field) : undefined;
    return times * (1 + selectionSetCost(field.selectionSet, type, innerPage));
  }

  return selectionSetCost(operation.selectionSet, rootType);
}

// Checked once the variables are known, which validation is not (and its results are
// cached per document): the refusal cannot depend on how a page size was written.
const costLimit: Plugin = {
  onExecute({ args, setResultAndStopExecution }) {
    const refusal = costRefusal(args);
    if (refusal) setResultAndStopExecution({ errors: [refusal] });
  },
  onSubscribe({ args, setResultAndStopExecution }) {
    const refusal = costRefusal(args);
    if (refusal) setResultAndStopExecution({ errors: [refusal] });
  },
};

function costRefusal({ schema, document, variableValues, operationName }: ExecutionArgs) {
  const cost = queryCost(schema, document, variableValues, operationName);
  if (cost === undefined || cost <= QUERY_LIMITS.maxCost) return undefined;
  return createGraphQLError(
    `Query cost limit of ${QUERY_LIMITS.maxCost} exceeded: this operation costs ${cost} (every field counts once ` +
      `per time it is resolved, a connection's edges once per item of its page). Ask for smaller pages or fewer nested lists.`,
    { extensions: { code: 'COST_LIMIT_EXCEEDED', http: { status: 400 } } },
  );
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
