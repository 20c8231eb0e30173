// News of revoked (or rotated-out) API keys, through Redis pub/sub: whoever revokes a key
// (the CLI) announces it after the commit, and every instance forgets the key at once
// instead of letting it work until its cache entry ages out. Without Redis, or for news
// missed while Redis was away, the cache's TTL is the bound.
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { createRedisClient } from '../redis.js';

export const API_KEY_REVOCATIONS_CHANNEL = 'flowgw-api-key-revocations';

interface RevocationMessage {
  apiKeyIds: string[];
}

export interface RevocationListenerOptions {
  redisUrl: string;
  /** The keys to forget. */
  onRevoked(apiKeyIds: string[]): void;
  /**
   * Whatever was announced while this instance was not listening is lost: each
   * (re)subscription starts by forgetting every key, so none outlives news it missed.
   */
  onListening(): void;
  logger?: Logger;
}

export interface RevocationListener {
  close(): Promise<void>;
}

export function listenForRevocations({ redisUrl, onRevoked, onListening, logger }: RevocationListenerOptions): RevocationListener {
  const subscriber = createRedisClient(redisUrl, { role: 'key-revocations', logger });
  subscriber.on('message', (channel: string, text: string) => {
    if (channel !== API_KEY_REVOCATIONS_CHANNEL) return;
    const ids = idsIn(text);
    if (ids.length) onRevoked(ids);
  });
  // Every (re)connection starts unsubscribed (the client does not resubscribe by itself).
  subscriber.on('ready', () => {
    subscriber
      .subscribe(API_KEY_REVOCATIONS_CHANNEL)
      .then(() => onListening())
      .catch(() => {});
  });
  return {
    async close() {
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}

function idsIn(text: string): string[] {
  try {
    const message = JSON.parse(text) as Partial<RevocationMessage>;
    return Array.isArray(message.apiKeyIds) ? message.apiKeyIds.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return []; // not ours: nothing to forget
  }
}

export interface RevocationAnnouncer {
  /**
   * Tells every listening instance to forget these keys. Resolves to the number of
   * instances that heard it; rejects when Redis could not be reached in time.
   */
  announce(apiKeyIds: string[]): Promise<number>;
  close(): void;
}

/**
 * Starts connecting to Redis at once, so that the announcement can go out the moment the
 * revocation commits instead of after a connection's set-up.
 */
export function prepareAnnouncer(redisUrl: string, timeoutMs = 3_000): RevocationAnnouncer {
  const publisher: Redis = createRedisClient(redisUrl, { role: 'key-revocations', logger: silentLogger });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref(); // a CLI done before it fires need not wait for it
    publisher.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  ready.catch(() => {}); // judged when announcing; a CLI that fails before that has nothing to say about Redis
  return {
    async announce(apiKeyIds) {
      await ready;
      const message: RevocationMessage = { apiKeyIds };
      return publisher.publish(API_KEY_REVOCATIONS_CHANNEL, JSON.stringify(message));
    },
    close() {
      publisher.disconnect();
    },
  };
}

// The CLI reports a failed announcement itself, in words for an operator.
const silentLogger = { warn() {}, info() {} } as unknown as Logger;
