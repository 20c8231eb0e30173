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
}
