// GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's /graphql path,
// executed through the same yoga instance, so plugins, masking and context are shared.
// The API key comes from the connection's `Authorization` param or the upgrade request.
import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { maskError } from './errors.js';
import type { createGraphQLServer } from './yoga.js';

type Yoga = ReturnType<typeof createGraphQLServer>;
type Executor = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

export function serveGraphQLOverWebSocket(server: Server, yoga: Yoga) {
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as Executor).execute(args) as never,
      subscribe: (args) => (args.rootValue as Executor).subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const authorization =
          (ctx.connectionParams?.Authorization as string | undefined) ?? ctx.extra.request.headers.authorization;
        const request = new Request('http://websocket/graphql', {
          headers: authorization ? { authorization } : {},
        });
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          request,
          params,
        });
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          return [maskError(error) as never];
        }
        const errors = validate(schema, document);
        if (errors.length) return errors;
        let contextValue;
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
          rootValue: { execute, subscribe },
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
