// Helpers for the live tests: subscribing to flowRunChanged over SSE (through app.fetch or
// real HTTP) and WebSocket (graphql-ws), collecting what arrives, and waiting for it with
// a bound so a broken server fails a test instead of hanging it.
//
// A subscription is only listening once the server has pulled its event stream (and, with
// Redis, once the SUBSCRIBE round trip is done). Tests therefore "probe" it: they publish
// marker changes straight onto the bus until one arrives. Probes carry PROBE_AT as their
// time, so they are told apart from real changes and left out of `changes()`.
import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { FlowRunChange } from '../../src/domain/flow-run-changes.ts';
import type { FlowRunChangePublisher } from '../../src/domain/flow-run-changes.ts';

export const PROBE_AT = '2000-01-01T00:00:00.000Z';

export const FLOW_RUN_CHANGED = `
  subscription Changed($flowRunId: UUID, $messageThreadId: UUID) {
    flowRunChanged(flowRunId: $flowRunId, messageThreadId: $messageThreadId) {
      kind flowRunId messageThreadId status at
      flowRun { id status state }
    }
  }
`;

export interface ChangePayload {
  kind: string;
  flowRunId: string;
  messageThreadId: string;
  status: string | null;
  at: string;
  flowRun: { id: string; status: string; state: unknown } | null;
}

export interface Received {
  data?: { flowRunChanged: ChangePayload } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects with `label` unless `promise` settles within `ms`. */
export async function within<T>(ms: number, label: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Everything one subscription received, in order, and how it ended. */
export class Inbox {
  readonly items: Received[] = [];
  ended = false;
  endError: unknown;
  /** The server said the subscription is complete (SSE `event: complete`, graphql-ws `complete`). */
  completed = false;
  private listeners = new Set<() => void>();

  push(item: Received) {
    this.items.push(item);
    this.notify();
  }

  end(error?: unknown) {
    if (this.ended) return;
    this.ended = true;
    this.endError = error;
    this.notify();
  }

  private notify() {
    for (const listener of [...this.listeners]) listener();
  }

  /** Real changes only (no probes), as delivered. */
  changes(): ChangePayload[] {
    return this.items.map((item) => item.data?.flowRunChanged).filter((change): change is ChangePayload => !!change && change.at !== PROBE_AT);
  }

  probes(): ChangePayload[] {
    return this.items.map((item) => item.data?.flowRunChanged).filter((change): change is ChangePayload => change?.at === PROBE_AT);
  }

  /** Resolves once `check` returns something other than undefined; fails after `ms`. */
  until<T>(check: () => T | undefined | false, ms = 5_000, label = 'condition'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const evaluate = () => {
        const result = check();
        if (result !== undefined && result !== false) {
          cleanup();
          resolve(result);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out after ${ms} ms waiting for ${label}; received ${JSON.stringify(this.items)}` +
              (this.ended ? ` (ended: ${String(this.endError ?? 'complete')})` : ''),
          ),
        );
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(evaluate);
      };
      this.listeners.add(evaluate);
      evaluate();
    });
  }

  /** The first `count` real changes, once that many have arrived. */
  changesUpTo(count: number, ms = 5_000) {
    return this.until(() => (this.changes().length >= count ? this.changes() : undefined), ms, `${count} change(s)`);
  }

  /** The end of the subscription (complete or error), or the first error payload. */
  errorOrEnd(ms = 5_000) {
    return this.until(() => (this.ended || this.items.some((item) => item.errors?.length) ? true : undefined), ms, 'an error or the end');
  }
}

export interface LiveSubscription {
  inbox: Inbox;
  close(): Promise<void>;
}

/** Reads a GraphQL-over-SSE response body (`event: next` / `data:` blocks) into the inbox. */
/**
 * Reads `response`'s events into `inbox` until the stream ends. Aborting `signal` cancels
 * the reader, which is what closes the connection: an aborted fetch whose body is being
 * read does not always close it, and the server would keep the subscription.
 */
export function readEventStream(response: Response, inbox: Inbox, signal?: AbortSignal): Promise<void> {
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.includes('text/event-stream')) {
    // A plain result (e.g. a request refused before any streaming).
    return response
      .json()
      .then((body) => inbox.push(body as Received))
      .then(
        () => inbox.end(),
        (error) => inbox.end(error),
      );
  }
  const reader = response.body!.getReader();
  signal?.addEventListener('abort', () => void reader.cancel().catch(() => {}), { once: true });
  const decoder = new TextDecoder();
  let buffer = '';
  const pump = async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let boundary = buffer.indexOf('\n\n'); boundary >= 0; boundary = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (event === 'next' && data.length) inbox.push(JSON.parse(data.join('\n')) as Received);
        if (event === 'complete') {
          inbox.completed = true;
          return;
        }
      }
    }
  };
  return pump().then(
    () => inbox.end(),
    (error) => inbox.end(error),
  );
}

export function sseRequest(url: string, key: string | undefined, variables: Record<string, unknown>, signal?: AbortSignal, query = FLOW_RUN_CHANGED) {
  return new Request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(key && { authorization: key }) },
    body: JSON.stringify({ query, variables }),
    signal,
  });
}

/** A subscription over SSE through the app's fetch handler (no port). */
export async function subscribeSse(
  fetchHandler: (request: Request) => Promise<Response>,
  key: string | undefined,
  variables: Record<string, unknown>,
  url = 'http://test/graphql',
  query = FLOW_RUN_CHANGED,
): Promise<LiveSubscription> {
  const inbox = new Inbox();
  const abort = new AbortController();
  const response = await within(5_000, 'SSE response', fetchHandler(sseRequest(url, key, variables, abort.signal, query)));
  const reading = readEventStream(response, inbox, abort.signal);
  return {
    inbox,
    async close() {
      abort.abort();
      await within(5_000, 'SSE stream to end', reading).catch(() => {});
    },
  };
}

export function wsClient(port: number, key: string | undefined): Client {
  return createClient({
    url: `ws://127.0.0.1:${port}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: key ? { Authorization: key } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

/** A subscription over WebSocket (graphql-ws) on an existing client. */
export function subscribeWs(client: Client, variables: Record<string, unknown>, query = FLOW_RUN_CHANGED): LiveSubscription {
  const inbox = new Inbox();
  const unsubscribe = client.subscribe<Received['data']>(
    { query, variables },
    {
      next: (value) => inbox.push(value as Received),
      error: (error) => inbox.end(error ?? new Error('error')),
      complete: () => {
        inbox.completed = true;
        inbox.end();
      },
    },
  );
  return {
    inbox,
    async close() {
      unsubscribe();
    },
  };
}

export interface ProbeTarget {
  organizationId: string;
  /** The thread a thread subscription listens to (or the run a run subscription does). */
  messageThreadId?: string;
  flowRunId?: string;
}

function probeChange(target: ProbeTarget): FlowRunChange {
  return {
    kind: 'updated',
    organizationId: target.organizationId,
    flowRunId: target.flowRunId ?? randomUUID(),
    messageThreadId: target.messageThreadId ?? randomUUID(),
    status: 'running',
    at: PROBE_AT,
  };
}

/** Publishes probes until the subscription receives one: from then on it is listening. */
export async function untilListening(inbox: Inbox, bus: FlowRunChangePublisher, target: ProbeTarget, ms = 10_000) {
  const deadline = Date.now() + ms;
  const before = inbox.probes().length;
  while (inbox.probes().length === before) {
    if (inbox.ended) throw new Error(`subscription ended before listening: ${String(inbox.endError)} ${JSON.stringify(inbox.items)}`);
    if (Date.now() > deadline) throw new Error(`subscription not listening after ${ms} ms: ${JSON.stringify(inbox.items)}`);
    bus.publish([probeChange(target)]);
    await inbox.until(() => inbox.probes().length > before || inbox.ended, 150).catch(() => {});
  }
}

/**
 * Publishes one probe and waits for it. Changes published before it on the same bus have
 * been delivered by then (one topic, delivered in order), so anything not received yet
 * was not going to be.
 */
export async function fence(inbox: Inbox, bus: FlowRunChangePublisher, target: ProbeTarget, ms = 5_000) {
  const probe = probeChange(target);
  const id = target.flowRunId ? probe.messageThreadId : probe.flowRunId;
  bus.publish([probe]);
  await inbox.until(() => inbox.probes().some((change) => change.flowRunId === id || change.messageThreadId === id), ms, 'the fence probe');
}

/** The triggerFlowRun mutation, selecting the new run's id and status. */
export const triggerOperation = {
  query: 'mutation($i: TriggerFlowRunInput!) { triggerFlowRun(input: $i) { flowRun { id status } } }',
  run: (data: any) => data.triggerFlowRun.flowRun as { id: string; status: string },
};
