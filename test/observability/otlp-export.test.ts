// Tracing as an operator turns it on: OTEL_EXPORTER_OTLP_ENDPOINT set on the server
// process; its spans reach the collector over OTLP/HTTP, the last ones when it stops.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';

interface ExportedSpan {
  name: string;
  spanId: string;
  parentSpanId?: string;
}
interface ExportRequest {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: ExportedSpan[] }[] }[];
}

describe('OTLP export from the server process', () => {
  let parent: string;
  let collector: Server;
  let server: ServerProcess | undefined;
  const received: { path: string; contentType?: string; body: ExportRequest }[] = [];

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'frg-otlp-'));
    collector = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ path: request.url ?? '', contentType: request.headers['content-type'], body: JSON.parse(body) as ExportRequest });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    if (server && server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
    await new Promise((resolve) => collector.close(resolve));
    await rm(parent, { recursive: true, force: true });
  });

  it('sends the request, execution and SQL spans of a request to OTEL_EXPORTER_OTLP_ENDPOINT, named by OTEL_SERVICE_NAME', async () => {
    const dataDir = join(parent, 'db');
    server = await startServerProcess({
      DATA_DIR: dataDir,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      OTEL_SERVICE_NAME: 'gateway-under-test',
    });
    expect(server.log().some((line) => line.msg.startsWith('tracing'))).toBe(true);
    const key = (await readFile(join(dataDir, 'demo-api-key'), 'utf8')).trim();
    const response = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { authorization: key, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query Newest { flowRuns(first: 3) { totalCount } }' }),
    });
    expect(response.status).toBe(200);

    server.process.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });

    expect(received.length).toBeGreaterThan(0);
    expect(received.every((each) => each.path === '/v1/traces' && each.contentType === 'application/json')).toBe(true);
    const resources = received.flatMap((each) => each.body.resourceSpans);
    const serviceNames = new Set(
      resources.map((resource) => resource.resource.attributes.find((attribute) => attribute.key === 'service.name')?.value.stringValue),
    );
    expect(serviceNames).toEqual(new Set(['gateway-under-test']));
    const spans = resources.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
    const http = spans.find((span) => span.name === 'POST /graphql');
    const execution = spans.find((span) => span.name === 'query.Newest');
    expect(http).toBeDefined();
    expect(execution?.parentSpanId).toBe(http!.spanId);
    expect(spans.some((span) => span.name === 'prisma:client:db_query' || span.name === 'db_query')).toBe(true);
  }, 120_000);

  it('a collector that cannot be reached costs the spans only: warn lines, and the server still stops cleanly', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const nowhere = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    server = await startServerProcess({ DATA_DIR: join(parent, 'unreachable'), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${nowhere}` });
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
    server.process.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const log = server.log();
    expect(log.some((line) => line.level === 40 && line.msg.startsWith('tracing:'))).toBe(true);
    expect(log.at(-1)?.msg, JSON.stringify(log.map((line) => line.msg))).toBe('stopped');
  }, 120_000);
});
