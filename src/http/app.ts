// The service as one fetch handler: GraphQL at /graphql, JSON:API under /public/v2.
// Tests call `app.fetch(request)` without opening a port; src/server.ts serves it.
import type { Database } from '../database/client.js';
import type { DomainServices } from '../domain/tenant.js';
import { createGraphQLServer } from '../graphql/yoga.js';

export interface AppOptions {
  db: Database;
  /** Clock and change publisher for the domain; defaults: system time, no announcements. */
  services?: DomainServices;
  graphiqlHeaders?: Record<string, string>;
}

export interface App {
  fetch(request: Request): Promise<Response>;
}

export function createApp({ db, services, graphiqlHeaders }: AppOptions): App {
  const graphql = createGraphQLServer({ prisma: db.prisma, services, graphiqlHeaders });
  return {
    async fetch(request) {
      if (new URL(request.url).pathname.startsWith('/public/v2/')) return (await import('../rest/handler.js')).handleRestRequest(request, db.prisma);
      return graphql.fetch(request);
    },
  };
}
