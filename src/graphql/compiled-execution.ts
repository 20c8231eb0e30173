// Queries and mutations run compiled (graphql-jit), at /graphql and in the REST adapter: a
// document is compiled once into a function over the same resolvers, which then skips
// graphql-js's per-field walk of the document on every request after. Subscriptions keep
// graphql-js: they are few, long-lived, and their payloads are not where the CPU goes.
import {
  type DefinitionNode,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  GraphQLError,
  type GraphQLSchema,
  getLocation,
  type SourceLocation,
  visit,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/** Compiled documents kept: clients send few distinct documents, but any client may send new ones. */
const COMPILED_DOCUMENTS = 1_000;

// By parsed document (yoga's parser cache and the REST adapter hand the same one back for
// the same text), and by text, for a document parsed again.
const byDocument = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();
const byText = new LRUCache<string, Map<string, CompiledQuery | null>>({ max: COMPILED_DOCUMENTS });

/** The document's operation compiled, once; null when jit cannot compile it (graphql-js then runs it, and reports what is wrong). */
export function compiledOperation(schema: GraphQLSchema, document: DocumentNode, operationName?: string): CompiledQuery | null {
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
    entry = isCompiledQuery(result) ? result : null;
    entries.set(key, entry);
  }
  return entry;
}

/** Runs a compiled operation; its errors get back the field nodes graphql-js would give them. */
export async function executeCompiled(
  query: CompiledQuery,
  document: DocumentNode,
  contextValue: unknown,
  variableValues: Record<string, unknown> | null | undefined,
  rootValue?: unknown,
): Promise<ExecutionResult> {
  const result = (await query.query(rootValue, contextValue, variableValues)) as ExecutionResult;
  return result.errors?.length ? { ...result, errors: result.errors.map((error) => withNodes(error, document)) } : result;
}

export function compiledExecution(): Plugin {
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
      const query = compiledOperation(args.schema, document, operationName);
      if (!query) return;
      setExecuteFn((executionArgs) =>
        executeCompiled(query, executionArgs.document, executionArgs.contextValue, executionArgs.variableValues, executionArgs.rootValue),
      );
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
