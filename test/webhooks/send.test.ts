// One webhook attempt against real servers on 127.0.0.1: what a failed attempt reports is a
// category (refused, timed out, TLS failed, HTTP <status>), never the socket's or TLS
// library's own words, which would tell a client which ports are open and what
// certificates answer on the private network; and an answer's body is read only so far,
// and only for as long as the attempt may take.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_RESPONSE_BODY_BYTES, sendWebhook } from '../../src/webhooks/send.ts';

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function listen(server: NetServer) {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => server.close() });
  return (server.address() as AddressInfo).port;
}

/** A server that takes connections and never answers; it closes them when the test ends. */
async function hangingServer() {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  const port = await listen(server);
  servers.push({
    close: () => {
      for (const socket of sockets) socket.destroy();
    },
  });
  return port;
}

const send = (url: string, timeoutMs = 2_000, allowPrivate = true) => sendWebhook(url, {}, '{}', { timeoutMs, allowPrivate });

describe('a webhook attempt', () => {
  it('reports a refused connection as "refused", the socket error only in its detail', async () => {
    const closed = createTcpServer();
    const port = await listen(closed);
    closed.close();
    const outcome = await send(`http://127.0.0.1:${port}/hooks`);
    expect(outcome).toMatchObject({ delivered: false, error: 'refused' });
    expect(outcome).not.toHaveProperty('responseStatus');
    expect('detail' in outcome && outcome.detail).toMatch(/ECONNREFUSED/);
  });

  it('reports a name that does not resolve as "refused" too', async () => {
    expect(await send('http://nowhere.invalid/hooks')).toMatchObject({ delivered: false, error: 'refused' });
  });

  it('reports an address it may not connect to as "refused", without the address or what it is', async () => {
    for (const url of ['https://127.0.0.1:9/hooks', 'https://localhost:9/hooks', 'https://[::1]:9/hooks', 'http://93.184.215.14/hooks']) {
      expect(await send(url, 2_000, false), url).toMatchObject({ delivered: false, error: 'refused' });
    }
  });

  it('reports no answer within the timeout as "timed out"', async () => {
    const port = await hangingServer();
    const started = Date.now();
    expect(await send(`http://127.0.0.1:${port}/hooks`, 300)).toMatchObject({ delivered: false, error: 'timed out' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reports a TLS handshake that fails as "TLS failed": plain http on the port, or a certificate nobody vouches for', async () => {
    const plain = createHttpServer((_request, response) => response.writeHead(204).end());
    const plainPort = await listen(plain);
    const wrongProtocol = await send(`https://127.0.0.1:${plainPort}/hooks`);
    expect(wrongProtocol).toMatchObject({ delivered: false, error: 'TLS failed' });

    const dir = mkdtempSync(join(tmpdir(), 'webhook-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const selfSigned = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (_request, response) => response.writeHead(204).end(),
    );
    const selfSignedPort = await listen(selfSigned);
    const untrusted = await send(`https://127.0.0.1:${selfSignedPort}/hooks`);
    expect(untrusted).toMatchObject({ delivered: false, error: 'TLS failed' });
    expect('detail' in untrusted && untrusted.detail).toMatch(/self.signed/i);
  });

  it('reports an answer that is not 2xx as "HTTP <status>"', async () => {
    const server = createHttpServer((_request, response) => response.writeHead(503).end('down for maintenance at 10.0.0.12'));
    const port = await listen(server);
    expect(await send(`http://127.0.0.1:${port}/hooks`)).toEqual({ delivered: false, responseStatus: 503, error: 'HTTP 503' });
    const redirecting = createHttpServer((_request, response) => response.writeHead(302, { location: 'http://169.254.169.254/' }).end());
    const redirectPort = await listen(redirecting);
    expect(await send(`http://127.0.0.1:${redirectPort}/hooks`)).toEqual({ delivered: false, responseStatus: 302, error: 'HTTP 302' });
  });

  it('reads at most a bounded body, and closes the connection of a body that never ends within the timeout', async () => {
    const timeoutMs = 1_000;
    let written = 0;
    let closedAt = 0;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const server = createHttpServer((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'text/plain' });
      // As fast as the client takes it, for as long as the connection lasts.
      const pump = () => {
        while (!response.destroyed) {
          written += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
      };
      pump();
      response.on('close', () => (closedAt = Date.now()));
    });
    const port = await listen(server);
    const started = Date.now();
    const outcome = await send(`http://127.0.0.1:${port}/hooks`, timeoutMs);
    expect(outcome).toEqual({ delivered: true, responseStatus: 200 });
    // The connection is closed once the bound is read, at the latest when the attempt's time is up.
    await expect.poll(() => closedAt, { timeout: timeoutMs + 3_000 }).toBeGreaterThan(0);
    expect(closedAt - started).toBeLessThan(timeoutMs + 1_000);
    // What the server managed to write: the bound plus what the sockets' buffers hold.
    console.log(`endless body: the connection closed after ${closedAt - started} ms, ${(written / 2 ** 20).toFixed(1)} MiB written by the server`);
    expect(written).toBeLessThan(MAX_RESPONSE_BODY_BYTES + 32 * 2 ** 20);
  });

  it('closes the connection of a 200 whose body trickles at the attempt timeout; it counts as delivered', async () => {
    let closedAt = 0;
    const server = createHttpServer((request, response) => {
      request.resume();
      response.writeHead(200);
      const timer = setInterval(() => response.write('.'), 100);
      response.on('close', () => {
        clearInterval(timer);
        closedAt = Date.now();
      });
    });
    const port = await listen(server);
    const started = Date.now();
    const outcome = await send(`http://127.0.0.1:${port}/hooks`, 800);
    expect(outcome).toMatchObject({ delivered: true, responseStatus: 200 });
    await expect.poll(() => closedAt, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(closedAt - started).toBeLessThan(800 + 1_000);
  });
});
