// What the service gives to the network when started with nothing but defaults (`npm start`
// on the embedded demo database), and with HOST=0.0.0.0 as the container image starts it:
// it listens on loopback only; the demo's write key reaches GraphiQL only for a browser on
// this machine; /metrics answers only this machine; no origin is allowed by CORS; and the
// embedded database's files are readable by their owner alone.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase } from '../support/database.ts';
import { openToOthers } from '../support/file-modes.ts';
import { type ServerProcess, startServerProcess } from '../support/server-process.ts';

/** An IPv4 address of this machine that is not loopback (undefined when it has none). */
const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;
const noExternal = 'this machine has no non-loopback IPv4 address to connect to';
if (!externalAddress) console.warn(`NOTICE: network-defaults: assertions over a non-loopback peer skipped: ${noExternal}`);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request through node:http, which, unlike fetch, sends the Host header it is given. */
function get(address: string, port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: address, port, path, headers: { host: `localhost:${port}`, ...headers }, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.once('error', reject);
    request.end();
  });
}

/** Resolves with the error code of a TCP connection attempt ('connected' if it succeeded). */
function tryConnect(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, address);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

const page = { accept: 'text/html' };
const pageHasKey = (answer: Answer, key: string) => answer.body.includes(key);

async function graphql(base: string, key: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { authorization: key, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data!;
}

describe('the embedded demo started with the defaults', () => {
  let parent: string;
  let dataDir: string;
  let server: ServerProcess;
  let key: string;

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'frg-net-default-'));
    dataDir = join(parent, 'data');
    server = await startServerProcess({ DATA_DIR: dataDir }, 150_000);
    key = (await readFile(join(dataDir, 'demo-api-key'), 'utf8')).trim();
  }, 180_000);
  afterAll(async () => {
    if (server && server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
    await rm(parent, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only, and says so', async () => {
    expect(server.log().find((line) => line.msg === 'listening')).toMatchObject({
      host: '127.0.0.1',
      url: `http://127.0.0.1:${server.port}/graphql`,
    });
    expect(await tryConnect('127.0.0.1', server.port)).toBe('connected');
    // Another loopback address is not 127.0.0.1 either.
    expect(await tryConnect('127.0.0.2', server.port)).toBe('ECONNREFUSED');
  });

  it.skipIf(!externalAddress)('refuses a connection to a non-loopback address of this machine', async () => {
    expect(await tryConnect(externalAddress!, server.port)).toBe('ECONNREFUSED');
  });

  it('fills the demo key into GraphiQL for a browser on this machine', async () => {
    const answer = await get('127.0.0.1', server.port, '/graphql', page);
    expect(answer.status).toBe(200);
    expect(pageHasKey(answer, key)).toBe(true);
  });

  it('answers /metrics on this machine', async () => {
    const answer = await get('127.0.0.1', server.port, '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/^# HELP /m);
  });

  it('allows no origin by CORS: no page elsewhere may read its answers', async () => {
    const evil = 'http://evil.example';
    const read = await get('127.0.0.1', server.port, '/graphql', { ...page, origin: evil });
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
    expect(pageHasKey(read, key)).toBe(false);
    const preflight = await new Promise<Answer>((resolve, reject) => {
      const request = httpRequest(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/graphql',
          method: 'OPTIONS',
          headers: { origin: evil, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: '' }));
        },
      );
      request.once('error', reject);
      request.end();
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('keeps the data directory and every file in it to its owner, after a start, after writes and after a stop', async () => {
    expect(await openToOthers(dataDir)).toEqual([]);

    const base = `http://127.0.0.1:${server.port}`;
    const { createFlow } = await graphql(base, key, 'mutation { createFlow(input: { name: "Modes" }) { flow { id } } }');
    for (let i = 0; i < 20; i++) {
      const { createMessageThread } = await graphql(
        base,
        key,
        'mutation($identifier: String!) { createMessageThread(input: { channel: web, identifier: $identifier }) { messageThread { id } } }',
        { identifier: `visitor-${i}` },
      );
      await graphql(
        base,
        key,
        'mutation($flowId: UUID!, $threadId: UUID!) { triggerFlowRun(input: { flowId: $flowId, messageThreadId: $threadId, state: {}, initialMessage: {} }) { flowRun { id } } }',
        { flowId: createFlow.flow.id, threadId: createMessageThread.messageThread.id },
      );
    }
    expect(await openToOthers(dataDir)).toEqual([]);

    server.process.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(await openToOthers(dataDir)).toEqual([]);
  }, 120_000);
});

describe('the embedded demo with HOST=0.0.0.0 (as the container image runs it)', () => {
  let parent: string;
  let server: ServerProcess;
  let key: string;

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'frg-net-any-'));
    server = await startServerProcess({ DATA_DIR: parent, HOST: '0.0.0.0' }, 150_000);
    key = (await readFile(join(parent, 'demo-api-key'), 'utf8')).trim();
  }, 180_000);
  afterAll(async () => {
    server?.process.kill('SIGTERM');
    await server?.exited;
    await rm(parent, { recursive: true, force: true });
  });

  it.skipIf(!externalAddress)('serves GraphiQL to a client elsewhere without the demo key, and not /metrics', async () => {
    const remotePage = await get(externalAddress!, server.port, '/graphql', { ...page, host: `${externalAddress}:${server.port}` });
    expect(remotePage.status).toBe(200);
    expect(remotePage.body).toMatch(/graphiql-config/);
    expect(pageHasKey(remotePage, key)).toBe(false);
    expect(remotePage.body).not.toMatch(/frg_/);
    // A header naming loopback does not make the peer local.
    const forged = await get(externalAddress!, server.port, '/graphql', { ...page, 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' });
    expect(pageHasKey(forged, key)).toBe(false);

    const metrics = await get(externalAddress!, server.port, '/metrics');
    expect(metrics.status).toBe(403);
    expect(JSON.parse(metrics.body)).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    expect(metrics.body).not.toMatch(/http_requests_total/);
  });

  it('fills the key in on this machine only when nothing says the browser is elsewhere', async () => {
    expect(pageHasKey(await get('127.0.0.1', server.port, '/graphql', page), key)).toBe(true);
    // A proxy on this machine passing on a client from elsewhere.
    expect(pageHasKey(await get('127.0.0.1', server.port, '/graphql', { ...page, 'x-forwarded-for': '203.0.113.7' }), key)).toBe(false);
    expect(pageHasKey(await get('127.0.0.1', server.port, '/graphql', { ...page, forwarded: 'for=203.0.113.7;proto=https' }), key)).toBe(false);
    // A page of another site whose name was pointed at 127.0.0.1 (DNS rebinding).
    expect(pageHasKey(await get('127.0.0.1', server.port, '/graphql', { ...page, host: `rebound.example:${server.port}` }), key)).toBe(false);
    expect((await get('127.0.0.1', server.port, '/metrics', { 'x-forwarded-for': '203.0.113.7' })).status).toBe(403);
  });
});

const serverUrl = process.env.TEST_DATABASE_URL;

describe.skipIf(!serverUrl)('on PostgreSQL, with the defaults', () => {
  let server: ServerProcess;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const scratch = await createScratchDatabase(serverUrl!);
    drop = scratch.drop;
    server = await startServerProcess({ DATABASE_URL: scratch.url }, 150_000);
  }, 180_000);
  afterAll(async () => {
    server?.process.kill('SIGTERM');
    await server?.exited;
    await drop?.();
  });

  it('listens on every interface, as a deployment behind a load balancer needs', async () => {
    expect(server.log().find((line) => line.msg === 'listening')).toMatchObject({ host: null });
    expect(await tryConnect('127.0.0.1', server.port)).toBe('connected');
    if (externalAddress) expect(await tryConnect(externalAddress, server.port)).toBe('connected');
  });

  it.skipIf(!externalAddress)('answers /metrics to this machine only, without METRICS_TOKEN or METRICS_PORT', async () => {
    expect((await get('127.0.0.1', server.port, '/metrics')).status).toBe(200);
    expect((await get(externalAddress!, server.port, '/metrics')).status).toBe(403);
  });
});
