// Carries flow-run changes from the instance that made them to every subscriber: in
// process by default, through Redis pub/sub when REDIS_URL is set so that a subscriber
// on one instance hears of a change made on another.
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { FlowRunChange, FlowRunChangePublisher } from '../domain/flow-run-changes.js';

const topicFor = (organizationId: string) => `flowRunChanged:${organizationId}` as const;

export interface FlowRunChangeBus extends FlowRunChangePublisher {
  /** Changes of one organization only: subscribers never see another tenant's events. */
  subscribe(organizationId: string): AsyncIterable<FlowRunChange>;
  /** Completes every open subscription (a stopping instance says goodbye cleanly). */
  endSubscriptions(): void;
  close(): Promise<void>;
}

export function createFlowRunChangeBus(options: { redisUrl?: string } = {}): FlowRunChangeBus {
  let redis: { publish: Redis; subscribe: Redis } | undefined;
  if (options.redisUrl) {
    // A subscribed Redis connection cannot publish: one of each.
    redis = {
      publish: new Redis(options.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 }),
      subscribe: new Redis(options.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 }),
    };
  }
  const pubSub = createPubSub<Record<string, [FlowRunChange]>>(
    redis
      ? { eventTarget: createRedisEventTarget({ publishClient: redis.publish, subscribeClient: redis.subscribe }) }
      : {},
  );
  const open = new Set<AsyncIterator<FlowRunChange>>();
  return {
    publish(changes) {
      for (const change of changes) pubSub.publish(topicFor(change.organizationId), change);
    },
    subscribe(organizationId) {
      const changes = pubSub.subscribe(topicFor(organizationId));
      const iterator = changes[Symbol.asyncIterator]();
      open.add(iterator);
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => iterator.next(),
          return: async () => {
            open.delete(iterator);
            return (await iterator.return?.()) ?? { done: true, value: undefined };
          },
        }),
      };
    },
    endSubscriptions() {
      // Ending the iterators completes each subscription: SSE clients get `complete`.
      for (const iterator of open) void iterator.return?.();
      open.clear();
    },
    async close() {
      if (redis) await Promise.all([redis.publish.quit(), redis.subscribe.quit()]);
    },
  };
}
