// The floor: the least a Node.js service can do for the same workloads on the same
// data: node:http, one hand-written SQL statement per request, no auth, no validation,
// no GraphQL. What the gateway achieves is reported as a fraction of this.
//   FLOOR_DATABASE_URL=postgres://…   or   FLOOR_DATA_DIR=<embedded copy>
//   FLOOR_ORGANIZATION_ID=<uuid>  PORT=<port, 0 for any>
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

type Query = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

async function connect(): Promise<Query> {
  if (process.env.FLOOR_DATABASE_URL) {
    const pool = new pg.Pool({ connectionString: process.env.FLOOR_DATABASE_URL, max: 10 });
    return async (sql, params) => (await pool.query(sql, params)).rows;
  }
  const pglite = new PGlite(process.env.FLOOR_DATA_DIR);
  await pglite.waitReady;
  return async (sql, params) => (await pglite.query<Record<string, unknown>>(sql, params)).rows;
}

const query = await connect();
const organizationId = process.env.FLOOR_ORGANIZATION_ID!;
let statements = 0;
const run = (sql: string, params: unknown[]) => {
  statements++;
  return query(sql, params);
};

const RELATIONS = `
  FROM "FlowRun" r
  JOIN "Flow" f ON f.id = r."flowId"
  JOIN "MessageThread" t ON t.id = r."messageThreadId"`;
// The page carries what the page workloads select; one run carries all its attributes.
const PAGE = `
  SELECT r.id, r.status, r."createdAt", f.name AS "flowName", t.channel, t.identifier ${RELATIONS}
  WHERE r."organizationId" = $1
  ORDER BY r."createdAt" DESC, r.id DESC
  LIMIT $2`;
const ONE = `
  SELECT r.id, r."flowId", r."messageThreadId", r.state, r."initialMessage", r.status, r.cost,
         r."createdAt", r."updatedAt", f.name AS "flowName", t.channel, t.identifier ${RELATIONS}
  WHERE r.id = $1 AND r."organizationId" = $2`;
// Queued or running in one statement; the partial unique index keeps a second running
// run out, as it does for the gateway.
const TRIGGER = `
  INSERT INTO "FlowRun" (id, "organizationId", "flowId", "messageThreadId", state, "initialMessage", status, "expiresAt", "updatedAt")
  SELECT $1, $2, $3, $4, $5::jsonb, $6::jsonb,
         CASE WHEN running.id IS NULL THEN 'running' ELSE 'queued' END::"FlowRunStatus",
         CASE WHEN running.id IS NULL THEN now() + interval '1 day' END, now()
  FROM (SELECT (SELECT id FROM "FlowRun" WHERE "messageThreadId" = $4 AND status = 'running') AS id) running
  RETURNING id, status`;

function send(response: import('node:http').ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

const server = createServer(async (request, response) => {
  try {
    const url = new URL(request.url ?? '/', 'http://floor');
    if (request.method === 'GET' && url.pathname === '/runs') {
      return send(response, 200, await run(PAGE, [organizationId, Number(url.searchParams.get('size') ?? 25)]));
    }
    if (request.method === 'GET' && url.pathname.startsWith('/runs/')) {
      const [row] = await run(ONE, [url.pathname.slice(6), organizationId]);
      return send(response, row ? 200 : 404, row ?? {});
    }
    if (request.method === 'POST' && url.pathname === '/runs') {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const { flowId, messageThreadId, state, initialMessage } = JSON.parse(Buffer.concat(chunks).toString());
      const params = [randomUUID(), organizationId, flowId, messageThreadId, JSON.stringify(state ?? {}), JSON.stringify(initialMessage ?? {})];
      const [row] = await run(TRIGGER, params).catch((error) =>
        // Two triggers raced for an idle thread: the loser is queued.
        error.code === '23505' ? run(TRIGGER, [randomUUID(), ...params.slice(1)]) : Promise.reject(error),
      );
      return send(response, 201, row);
    }
    if (url.pathname === '/stats') return send(response, 200, { statements });
    send(response, 404, {});
  } catch (error) {
    send(response, 500, { error: (error as Error).message });
  }
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`floor on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
