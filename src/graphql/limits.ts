// What a single GraphQL request may ask for, checked while validating, before anything
// executes (graphql-armor), and the operation counts for /metrics.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { getOperationAST, type OperationDefinitionNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Metrics } from '../observability/metrics.js';

export const QUERY_LIMITS = {
  maxDepth: 10,
  maxAliases: 15,
  maxTokens: 2_000,
  maxDirectives: 20,
  maxCost: 5_000,
};

export function queryLimits(): Plugin[] {
  const armor = new EnvelopArmor({
    maxDepth: { n: QUERY_LIMITS.maxDepth, ignoreIntrospection: true },
    maxAliases: { n: QUERY_LIMITS.maxAliases },
    maxTokens: { n: QUERY_LIMITS.maxTokens },
    maxDirectives: { n: QUERY_LIMITS.maxDirectives },
    costLimit: { maxCost: QUERY_LIMITS.maxCost, ignoreIntrospection: true },
    // Introspection is open to key holders; hiding field suggestions would only hinder them.
    blockFieldSuggestion: { enabled: false },
  });
  return [...(armor.protect().plugins as Plugin[]), refuseEmptyBatch];
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
