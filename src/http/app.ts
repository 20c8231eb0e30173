// The service as one fetch handler: GraphQL at /graphql, JSON:API under /public/v2,
// health at /healthz and /readyz. Tests call `app.fetch(request)` without opening a
// port; src/server.ts serves it (and WebSocket subscriptions) over HTTP.
import type { Database } from '../database/client.js';
import { defaultServices, type DomainServices } from '../domain/tenant.js';
import type { FlowRunChangeFeed } from '../graphql/context.js';
import { createContextFactory } from '../graphql/context-factory.js';
import { createGraphQLServer } from '../graphql/yoga.js';
import { handleRestRequest } from '../rest/handler.js';
import { liveness, readiness } from './health.js';

export interface AppOptions {
  db: Database;
  /** Clock and change publisher for the domain; defaults: system time, no announcements. */
  services?: DomainServices;
  /** Where subscriptions listen; without it, subscribing is refused. */
  changeFeed?: FlowRunChangeFeed;
  graphiqlHeaders?: Record<string, string>;
}

export interface App {
  fetch(request: Request): Promise<Response>;
  graphql: ReturnType<typeof createGraphQLServer>;
}

export function createApp({ db, services = defaultServices, changeFeed, graphiqlHeaders }: AppOptions): App {
  const contextFor = createContextFactory(db.prisma, services, changeFeed);
  const graphql = createGraphQLServer({ contextFor, graphiqlHeaders });
  return {
    graphql,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname.startsWith('/public/v2/')) return handleRestRequest(request, db.prisma, services);
      if (pathname === '/healthz') return liveness();
      if (pathname === '/readyz') return readiness(db);
      return graphql.fetch(request);
    },
  };
}
