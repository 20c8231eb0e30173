import type { FlowRunChange } from '../domain/flow-run-changes.js';
import type { Tenant } from '../domain/tenant.js';

/** Where subscriptions listen: the changes of one organization. */
export interface FlowRunChangeFeed {
  subscribe(organizationId: string): AsyncIterable<FlowRunChange>;
  /** Completes every open subscription (used when the instance stops). */
  endSubscriptions?(): void;
}

/** What every resolver gets: the organization the API key acts for. */
export interface GraphQLContext {
  tenant: Tenant;
  /** Present where subscriptions are served (GraphQL over SSE and WebSocket). */
  changeFeed?: FlowRunChangeFeed;
  /**
   * The HTTP request the operation came in, set by yoga (not by the context factory): the
   * operations of one batched request share it, so per-request state is kept against it.
   * Absent in the JSON:API adapter's contexts.
   */
  request?: Request;
  /**
   * How the transport ends a subscription whose API key stopped being valid (revoked,
   * expired): WebSocket closes the connection with 4403. Without it (SSE), the stream
   * gets an UNAUTHENTICATED error and completes (src/graphql/subscription-holds.ts).
   */
  endForRefusedKey?(): void;
}
