// A webhook receiver on 127.0.0.1 for the tests: records every request it gets (with the
// time it arrived) and answers as the test says. It can go away and come back on the same
// port, as a receiver in an outage would.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.timeOrigin-based milliseconds, comparable with Date.now(). */
  receivedAt: number;
  answered: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** The status to answer a request with (default 204). */
  answer: (request: { id: string; attempt: number; body: string }) => number | Promise<number>;
  /** The ids answered 2xx, in the order they were. */
  delivered(): ReceivedWebhook[];
  /** Resolves once `predicate` holds over what was received, or rejects after timeoutMs. */
  waitFor(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startWebhookReceiver(port = 0): Promise<WebhookReceiver> {
  const attempts = new Map<string, number>();
  const waiters = new Set<() => void>();
  let server: Server | undefined;
  const receiver: WebhookReceiver = {
    url: '',
    port,
    received: [],
    answer: () => 204,
    delivered: () => receiver.received.filter((request) => request.answered >= 200 && request.answered < 300),
    waitFor(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(receiver.received)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the receiver did not get what was awaited within ${timeoutMs} ms (got ${receiver.received.length} requests)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async start() {
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', async () => {
          const receivedAt = Date.now();
          const body = Buffer.concat(chunks).toString('utf8');
          const id = String(request.headers['webhook-id']);
          const attempt = (attempts.get(id) ?? 0) + 1;
          attempts.set(id, attempt);
          const status = await receiver.answer({ id, attempt, body });
          receiver.received.push({ headers: request.headers, body, receivedAt, answered: status });
          response.writeHead(status).end();
          for (const waiter of [...waiters]) waiter();
        });
      });
      await new Promise<void>((resolve) => server!.listen(receiver.port, '127.0.0.1', resolve));
      receiver.port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${receiver.port}/webhooks`;
    },
    async stop() {
      const closing = server;
      server = undefined;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
  };
  await receiver.start();
  return receiver;
}
