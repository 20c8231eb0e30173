// How a request becomes a GraphQL context, the same for every transport (HTTP, SSE,
// WebSocket) and for the JSON:API adapter: the API key's tenant, with the domain's
// services, and where subscriptions listen.
import type { Authenticator } from '../domain/organizations.js';
import { apiKeyFrom } from '../request/authorization.js';
import type { FlowRunChangeFeed, GraphQLContext } from './context.js';

export type ContextFactory = (headers: Headers) => Promise<GraphQLContext>;

export function createContextFactory(authenticator: Authenticator, changeFeed?: FlowRunChangeFeed): ContextFactory {
  return async (headers) => ({ tenant: await authenticator.authenticate(apiKeyFrom(headers)), changeFeed });
}
