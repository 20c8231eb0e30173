// The peer: PostGraphile v5 serving the benchmark's own database, as its documentation
// sets it up (library mode: the Amber preset, a pg service from makePgService, Grafserv on
// node:http). It introspects the tables and builds its own schema from them: no
// authentication, no tenancy, no validation beyond GraphQL's; its create mutation inserts
// the row it is given (it knows nothing of the service's queue rule).
//   POSTGRAPHILE_DATABASE_URL=postgres://…  PORT=<port, 0 for any>
// Besides GraphQL at /graphql, a second port (printed at start) serves /stats (SQL
// statements sent so far) and /sql (the distinct SQL texts sent since the last /sql call):
// statements are counted on every client of the pool, as the gateway counts Prisma's.

// PostGraphile v5 targets Node.js 22 and calls Promise.withResolvers (ES2024), which
// Node.js 20 lacks: installed here, before any of its modules is loaded (imports below
// are dynamic for that reason).
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}
const PromiseConstructor = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
if (typeof PromiseConstructor.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve'];
      let reject!: Resolvers<T>['reject'];
      const promise = new this<T>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      return { promise, resolve, reject };
    },
  });
}

const { createServer } = await import('node:http');
const { default: pg } = await import('pg');
const { postgraphile } = await import('postgraphile');
const { PostGraphileAmberPreset } = await import('postgraphile/presets/amber');
const { makePgService } = await import('postgraphile/adaptors/pg');
const { grafserv } = await import('postgraphile/grafserv/node');

// The same pool size as the gateway's and the floor's.
const pool = new pg.Pool({ connectionString: process.env.POSTGRAPHILE_DATABASE_URL, max: 10 });
pool.on('error', () => {});
let statements = 0;
let captured: Map<string, number> | null = null;
pool.on('connect', (client) => {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    statements++;
    if (captured) {
      const first = args[0] as string | { text?: string };
      const text = typeof first === 'string' ? first : (first?.text ?? '');
      captured.set(text, (captured.get(text) ?? 0) + 1);
    }
    return query(...args);
  };
});

const preset: GraphileConfig.Preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ pool, schemas: ['public'] })],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
// Build the schema now (introspection), not on the first request.
await pgl.getSchema();

const server = createServer();
await serv.addTo(server);
const stats = createServer((request, response) => {
  let body: unknown = {};
  if (request.url === '/stats') body = { statements };
  else if (request.url === '/sql') {
    body = captured ? Object.fromEntries(captured) : {};
    captured = new Map();
  }
  const text = JSON.stringify(body);
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
});

const listen = (target: import('node:http').Server) =>
  new Promise<number>((resolve) =>
    target.listen(Number(target === server ? (process.env.PORT ?? 0) : 0), '127.0.0.1', () =>
      resolve((target.address() as import('node:net').AddressInfo).port),
    ),
  );
const [port, statsPort] = [await listen(server), await listen(stats)];

const stop = async () => {
  server.close();
  stats.close();
  await pgl.release();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
console.log(`postgraphile on http://127.0.0.1:${port} stats on http://127.0.0.1:${statsPort}`);
