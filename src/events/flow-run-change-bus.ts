// Carries flow-run changes from the instance that made them to every subscriber: in
// process by default, through Redis pub/sub when REDIS_URL is set so that a subscriber
// on one instance hears of a change made on another.
//
// With Redis, a change reaches this instance's subscribers through Redis too, so that
// every instance hears the changes of a thread in the one order Redis gives them. When
// a change cannot be published (Redis is away), it is counted and handed to this
// instance's subscribers directly: during an outage fan-out shrinks to each instance
// instead of stopping, and it widens again by itself once Redis is back.
import { randomUUID } from 'node:crypto';
import { createPubSub } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import type { FlowRunChange, FlowRunChangePublisher } from '../domain/flow-run-changes.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createRedisClient } from '../redis.js';

const topicFor = (organizationId: string) => `flowRunChanged:${organizationId}` as const;

export interface FlowRunChangeBus extends FlowRunChangePublisher {
  /** Changes of one organization only: subscribers never see another tenant's events. */
  subscribe(organizationId: string): AsyncIterable<FlowRunChange>;
  /** Completes every open subscription (a stopping instance says goodbye cleanly). */
  endSubscriptions(): void;
  close(): Promise<void>;
}

export interface FlowRunChangeBusOptions {
  redisUrl?: string;
  /** Counts the changes that could not be published to Redis. */
  metrics?: Pick<Metrics, 'changePublishFailures'>;
  logger?: Logger;
}

/** What travels through Redis: the change, and an id to deliver it only once here. */
type Message = FlowRunChange & { messageId?: string };

export function createFlowRunChangeBus(options: FlowRunChangeBusOptions = {}): FlowRunChangeBus {
  const local = createPubSub<Record<string, [FlowRunChange]>>();
  const open = new Map<AsyncIterator<FlowRunChange>, () => void>();
  const redis = options.redisUrl ? connectRedis(options.redisUrl, options, (topic, change) => local.publish(topic, change)) : undefined;

  return {
    publish(changes) {
      for (const change of changes) {
        if (redis) redis.publish(change);
        else local.publish(topicFor(change.organizationId), change);
      }
    },
    subscribe(organizationId) {
      const topic = topicFor(organizationId);
      const iterator = local.subscribe(topic)[Symbol.asyncIterator]();
      redis?.listen(topic);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        open.delete(iterator);
        redis?.unlisten(topic);
      };
      open.set(iterator, release);
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => iterator.next(),
          return: async () => {
            release();
            return (await iterator.return?.()) ?? { done: true, value: undefined };
          },
        }),
      };
    },
    endSubscriptions() {
      // Ending the iterators completes each subscription: SSE clients get `complete`.
      for (const [iterator, release] of [...open]) {
        release();
        void iterator.return?.();
      }
    },
    async close() {
      await redis?.close();
    },
  };
}

function connectRedis(url: string, { metrics, logger }: FlowRunChangeBusOptions, deliverHere: (topic: string, change: FlowRunChange) => void) {
  // A subscribed Redis connection cannot publish: one of each.
  const publisher = createRedisClient(url, { role: 'change-publish', logger });
  const subscriber = createRedisClient(url, { role: 'change-subscribe', logger });
  const instance = randomUUID();
  let sequence = 0;
  // Topics with subscribers here, and how many: Redis is subscribed to exactly these.
  const topics = new Map<string, number>();
  // A change whose publish failed may still have gone through (a reply lost to a timeout
  // or a cut): remembering what was delivered keeps it from arriving twice.
  const delivered = new LRUCache<string, true>({ max: 10_000, ttl: 60_000 });
  const deliverOnce = (topic: string, { messageId, ...change }: Message) => {
    if (messageId) {
      if (delivered.has(messageId)) return;
      delivered.set(messageId, true);
    }
    deliverHere(topic, change);
  };

  subscriber.on('message', (topic: string, text: string) => {
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      return; // not a change: nothing to deliver
    }
    deliverOnce(topic, message);
  });
  // Every (re)connection starts unsubscribed: subscribe to what is listened to now,
  // including topics whose SUBSCRIBE failed while Redis was away.
  subscriber.on('ready', () => {
    if (topics.size) subscriber.subscribe(...topics.keys()).catch(() => {});
  });

  return {
    publish(change: FlowRunChange) {
      const topic = topicFor(change.organizationId);
      // The run's snapshot is for the webhook outbox, not for subscribers: it stays here.
      const { run: _snapshot, ...announced } = change;
      const message: Message = { ...announced, messageId: `${instance}:${++sequence}` };
      publisher.publish(topic, JSON.stringify(message)).catch(() => {
        metrics?.changePublishFailures.inc();
        deliverOnce(topic, message);
      });
    },
    listen(topic: string) {
      const count = topics.get(topic) ?? 0;
      topics.set(topic, count + 1);
      // Failing while Redis is away is fine: the 'ready' handler subscribes again.
      if (count === 0) subscriber.subscribe(topic).catch(() => {});
    },
    unlisten(topic: string) {
      const count = topics.get(topic) ?? 0;
      if (count > 1) return void topics.set(topic, count - 1);
      topics.delete(topic);
      subscriber.unsubscribe(topic).catch(() => {});
    },
    async close() {
      await Promise.all([publisher, subscriber].map((client) => client.quit().catch(() => client.disconnect())));
    },
  };
}
