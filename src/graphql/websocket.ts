// GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's /graphql path,
// executed through the same yoga instance, so plugins, masking and context are shared.
// It has the guards HTTP has: the same body limit per message, the key checked once at
// `connection_init` (4401 without one, 4403 when it is refused), every operation counted
// against the key's rate, and the request deadline on queries and mutations. Subscriptions
// take their key's places like SSE ones (src/graphql/subscription-holds.ts); when the key
// stops being valid (revoked, expired), the connection is closed with 4403.
import type { Server } from 'node:http';
import { type DocumentNode, type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { DomainError } from '../domain/errors.js';
import type { Admission } from '../request/admission.js';
import { apiKeyFrom } from '../request/authorization.js';
import { MAX_BODY_BYTES } from '../request/body.js';
import type { ClientConnection } from '../request/client-connection.js';
import type { ContextFactory } from './context-factory.js';
import { maskError } from './errors.js';
import type { createGraphQLServer } from './yoga.js';

type Yoga = ReturnType<typeof createGraphQLServer>;
type Executor = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

export interface WebSocketGuards {
  /** The same admission HTTP requests pass (address budgets, the key's rate). */
  admit(headers: Headers, connection: ClientConnection): Promise<Admission>;
  /** The key's GraphQL context, or the domain's UNAUTHENTICATED. */
  contextFor: ContextFactory;
  /** Queries and mutations not answered by then get a REQUEST_TIMEOUT error. */
  timeoutMs: number;
}

interface Connection {
  headers: Headers;
  remoteAddress?: string;
}

const coded = (message: string, code: string) => new GraphQLError(message, { extensions: { code } });

/** The admission's refusal as the GraphQL error an operation gets (no HTTP answer to build). */
const refusalOf = (admission: Admission) => ('refused' in admission ? coded(admission.detail, 'RATE_LIMITED') : undefined);

/** Runs `work`, or answers REQUEST_TIMEOUT once `ms` have passed (the work goes on). */
async function withDeadline(work: () => unknown, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ExecutionResult>((resolve) => {
    timer = setTimeout(() => resolve({ errors: [coded(`the operation was not answered within ${ms} ms`, 'REQUEST_TIMEOUT')] }), ms);
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function serveGraphQLOverWebSocket(server: Server, yoga: Yoga, guards: WebSocketGuards) {
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: MAX_BODY_BYTES });
  const connections = new WeakMap<object, Connection>();

  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as Executor).execute(args) as never,
      subscribe: (args) => (args.rootValue as Executor).subscribe(args) as never,
      onConnect: async (ctx) => {
        const given = ctx.connectionParams?.Authorization ?? ctx.extra.request.headers.authorization;
        const headers = new Headers(typeof given === 'string' ? { authorization: given } : {});
        const key = apiKeyFrom(headers);
        const socket = ctx.extra.socket;
        // Closing alone is not a refusal to graphql-ws: whatever onConnect returns but false
        // acknowledges the connection, and a subscribe sent meanwhile would be run.
        const refuse = (code: number, reason: string) => {
          socket.close(code, reason);
          return false;
        };
        if (!key) return refuse(CloseCode.Unauthorized, 'Unauthorized: send the API key as Authorization');
        const remoteAddress = ctx.extra.request.socket.remoteAddress;
        const refusal = refusalOf(await guards.admit(headers, { remoteAddress }));
        if (refusal) return refuse(CloseCode.Forbidden, `Forbidden: ${refusal.message}`.slice(0, 120));
        try {
          await guards.contextFor(headers);
        } catch (error) {
          if (error instanceof DomainError && error.code === 'UNAUTHENTICATED') {
            return refuse(CloseCode.Forbidden, 'Forbidden: the API key is not valid');
          }
          throw error;
        }
        connections.set(ctx, { headers, remoteAddress });
        return true;
      },
      onSubscribe: async (ctx, _id, params) => {
        const connection = connections.get(ctx);
        // graphql-ws lets a subscription through only after onConnect accepted the connection.
        if (!connection) throw new Error('a subscription arrived on a connection that was never accepted');
        // Every operation counts against the key's rate, as every HTTP request does.
        const refusal = refusalOf(await guards.admit(connection.headers, connection));
        if (refusal) return [refusal];
        const request = new Request('http://websocket/graphql', { headers: connection.headers });
        // A key that stops being valid ends the connection, as one refused at connection_init.
        const endForRefusedKey = () => ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden: the API key is not valid');
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ request, params, endForRefusedKey });
        let document: DocumentNode;
        let errors: readonly GraphQLError[];
        try {
          document = parse(params.query);
          // The document limits (aliases, depth) throw from inside validation, not return.
          errors = validate(schema, document);
        } catch (error) {
          return [maskError(error) as never];
        }
        if (errors.length) return errors;
        let contextValue: Awaited<ReturnType<typeof contextFactory>>;
        try {
          contextValue = await contextFactory();
        } catch (error) {
          return [maskError(error) as never];
        }
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: {
            execute: (args: ExecutionArgs) => withDeadline(() => execute(args), guards.timeoutMs),
            subscribe,
          },
        };
      },
    },
    sockets,
  );
  return {
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
    },
  };
}
