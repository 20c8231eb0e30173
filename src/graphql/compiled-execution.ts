// Queries and mutations run compiled (graphql-jit): a document is compiled once into a
// function over the same resolvers, which then skips graphql-js's per-field walk of the
// document on every request after. Subscriptions keep graphql-js: they are few, long-lived,
// and their payloads are not where the CPU goes.
import {
  type DefinitionNode,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  GraphQLError,
  getLocation,
  type SourceLocation,
  visit,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/** Compiled documents kept: clients send few distinct documents, but any client may send new ones. */
const COMPILED_DOCUMENTS = 1_000;

export function compiledExecution(): Plugin {
  // By parsed document (the parser's cache hands the same one back for the same text), and
  // by text, for a document parsed again.
  const byDocument = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();
  const byText = new LRUCache<string, Map<string, CompiledQuery | null>>({ max: COMPILED_DOCUMENTS });

  function compiled(document: DocumentNode, operationName: string | undefined, schema: Parameters<typeof compileQuery>[0]) {
    let entries = byDocument.get(document);
    const text = document.loc?.source.body;
    if (!entries && text) entries = byText.get(text);
    if (!entries) {
      entries = new Map();
      byDocument.set(document, entries);
      if (text) byText.set(text, entries);
    }
    const key = operationName ?? '';
    let entry = entries.get(key);
    if (entry === undefined) {
      const result = compileQuery(schema, document, operationName);
      // What jit cannot compile (or an unknown operation) runs in graphql-js, which reports it.
      entry = isCompiledQuery(result) ? result : null;
      entries.set(key, entry);
    }
    return entry;
  }

  return {
    onExecute({ args, setExecuteFn }) {
      const operationName = args.operationName ?? undefined;
      const document: DocumentNode = args.document;
      const isSubscription = document.definitions.some(
        (definition: DefinitionNode) =>
          definition.kind === 'OperationDefinition' &&
          definition.operation === 'subscription' &&
          (!operationName || definition.name?.value === operationName),
      );
      if (isSubscription) return;
      const query = compiled(document, operationName, args.schema);
      if (!query) return;
      setExecuteFn(async (executionArgs) => {
        const result = (await query.query(executionArgs.rootValue, executionArgs.contextValue, executionArgs.variableValues)) as ExecutionResult;
        return result.errors?.length ? { ...result, errors: result.errors.map((error) => withNodes(error, executionArgs.document)) } : result;
      });
    },
  };
}

/**
 * graphql-jit's errors carry the locations of their field but not its node, which the
 * error mapping reads (an unreadable cursor is named by the argument the field was given):
 * found again from the document, only for a failed request.
 */
function withNodes(error: GraphQLError, document: DocumentNode): GraphQLError {
  const source = document.loc?.source;
  if (error.nodes?.length || !error.locations?.length || !source) return error;
  const wanted = (location: SourceLocation) => `${location.line}:${location.column}`;
  const locations = new Set(error.locations.map(wanted));
  const nodes: FieldNode[] = [];
  visit(document, {
    Field(node) {
      if (node.loc && locations.has(wanted(getLocation(source, node.loc.start)))) nodes.push(node);
    },
  });
  if (!nodes.length) return error;
  return new GraphQLError(error.message, { nodes, path: error.path, originalError: error.originalError, extensions: error.extensions });
}
