// Serves the app over HTTP (and GraphQL subscriptions over WebSocket) and stops it the way
// a deploy needs: readiness fails at once, the listener closes after a delay that lets a
// load balancer stop routing and once the connections queued on it are accepted, every
// request on a connection accepted is answered, and only connections with no request
// pending are closed.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net';
import { createServerAdapter, type ServerAdapterNodeContext } from '@whatwg-node/server';
import { serveGraphQLOverWebSocket } from '../graphql/websocket.js';
import type { App } from './app.js';

export interface RunningServer {
  port: number;
  /**
   * Stops as described above: `delayMs` is how long the listener keeps accepting after
   * readiness fails, `graceMs` how long requests in flight may take; subscriptions
   * complete; resolves when all is closed.
   */
  close(graceMs?: number, delayMs?: number): Promise<void>;
}

const isEventStream = (request: IncomingMessage) => (request.headers.accept ?? '').includes('text/event-stream');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
/** Resolves right after the event loop's next poll phase, where it accepts connections and reads sockets. */
const afterPoll = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function serve(app: App, port: number, host?: string): Promise<RunningServer> {
  // The connection's peer is where the request came from (see src/http/client-limits.ts).
  const adapter = createServerAdapter<ServerAdapterNodeContext>((request, context) =>
    app.fetch(request, { remoteAddress: context.req.socket?.remoteAddress }),
  );
  let stopping = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const streams = new Set<ServerResponse>();
  const unanswered = new Set<ServerResponse>();
  // Connections and how many requests each is answering: one with none is idle.
  const connections = new Map<Socket, number>();
  let accepted = 0;

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    connections.set(socket, (connections.get(socket) ?? 0) + 1);
    unanswered.add(response);
    // Once stopping, every answer closes its connection behind it.
    if (stopping) response.shouldKeepAlive = false;
    const stream = isEventStream(request);
    // Event streams last as long as the subscriber: they are ended, not waited for.
    if (stream) streams.add(response);
    else inFlight++;
    response.once('close', () => {
      unanswered.delete(response);
      connections.set(socket, (connections.get(socket) ?? 1) - 1);
      if (stream) return void streams.delete(response);
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    void adapter(request, response);
  });
  server.on('connection', (socket: Socket) => {
    accepted++;
    connections.set(socket, 0);
    socket.once('close', () => connections.delete(socket));
  });
  // A WebSocket is the WebSocket server's to close, not an idle HTTP connection.
  server.on('upgrade', (_request: IncomingMessage, socket: Socket) => connections.delete(socket));
  const websocket = serveGraphQLOverWebSocket(server, app.graphql, app.websocketGuards);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));

  /**
   * Closes the connections with no request pending. A request whose bytes arrived while
   * the event loop was busy is not parsed yet, and its connection looks idle: the check
   * waits for the loop's next poll phase, so those requests are seen, and answered,
   * instead of reset.
   */
  async function closeIdleConnections() {
    await afterPoll();
    for (const [socket, requests] of connections) if (requests === 0) socket.destroy();
  }

  /**
   * Accepts the connections the kernel has queued on the listener, which closing it would
   * reset. Node takes one of them per turn of the event loop (30 queued connections took
   * 30 turns on Node 20), and a turn of a busy loop is long: under load, connections that
   * clients made seconds before wait there. Returns once two poll phases in a row
   * accepted nothing, so the queue was empty at the second (setImmediate runs right after
   * a poll phase; the first may follow the poll phase under way), or at the deadline.
   */
  async function acceptQueued(deadline: number) {
    for (;;) {
      const before = accepted;
      await afterPoll();
      await afterPoll();
      if (accepted === before || Date.now() >= deadline) return;
    }
  }

  return {
    port: (server.address() as AddressInfo).port,
    async close(graceMs = 10_000, delayMs = 0) {
      stopping = true;
      app.beginStopping();
      // Answers already under way that have not sent their headers close their connection.
      for (const response of unanswered) if (!response.headersSent) response.shouldKeepAlive = false;
      if (delayMs > 0) await sleep(delayMs);
      const deadline = Date.now() + graceMs;
      await acceptQueued(deadline);
      // net.Server's close, not http.Server's: since Node 19 the latter also closes every
      // connection it deems idle at once, including those with a request not yet parsed.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      await closeIdleConnections();
      await websocket.close();
      while (inFlight > 0 && Date.now() < deadline) {
        await Promise.race([new Promise<void>((resolve) => (drained = resolve)), sleep(Math.min(100, deadline - Date.now()))]);
        // A kept-alive connection that finished its last request meanwhile is idle now.
        await closeIdleConnections();
      }
      // Subscriptions complete (SSE clients get `complete`); give the streams a moment to
      // flush before the remaining connections are cut.
      app.endSubscriptions();
      const streamsEnded = Promise.all([...streams].map((stream) => new Promise((resolve) => stream.once('close', resolve))));
      await Promise.race([streamsEnded, sleep(1_000)]);
      server.closeAllConnections();
      await closed;
    },
  };
}
