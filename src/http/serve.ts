// Serves the app over HTTP (and GraphQL subscriptions over WebSocket) and stops it
// gracefully: no new connections, in-flight requests finish, subscriptions are closed.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServerAdapter } from '@whatwg-node/server';
import { serveGraphQLOverWebSocket } from '../graphql/websocket.js';
import type { App } from './app.js';

export interface RunningServer {
  port: number;
  /** Stops accepting, lets requests in flight finish (up to `graceMs`), ends subscriptions. */
  close(graceMs?: number): Promise<void>;
}

const isEventStream = (request: IncomingMessage) => (request.headers.accept ?? '').includes('text/event-stream');

export async function serve(app: App, port: number, host?: string): Promise<RunningServer> {
  const adapter = createServerAdapter((request: Request) => app.fetch(request));
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const streams = new Set<ServerResponse>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    // Event streams last as long as the subscriber: they are ended, not waited for.
    if (isEventStream(request)) {
      streams.add(response);
      response.once('close', () => streams.delete(response));
    } else {
      inFlight++;
      response.once('close', () => {
        inFlight--;
        if (inFlight === 0) drained?.();
      });
    }
    void adapter(request, response);
  });
  const websocket = serveGraphQLOverWebSocket(server, app.graphql);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));

  return {
    port: (server.address() as AddressInfo).port,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await websocket.close();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
        ]);
      }
      // Subscriptions complete (SSE clients get `complete`); give the streams a moment to
      // flush before the remaining connections are cut.
      app.endSubscriptions();
      const streamsEnded = Promise.all([...streams].map((stream) => new Promise((resolve) => stream.once('close', resolve))));
      await Promise.race([streamsEnded, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      server.closeAllConnections();
      await closed;
    },
  };
}
