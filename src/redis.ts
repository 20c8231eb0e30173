// Redis clients for change fan-out and shared rate limits. Redis is optional for
// correctness: each user of a client has a fallback (rate limits count in memory,
// changes reach this instance's subscribers directly), so a Redis outage must cost
// sharing, never requests or the process.
import { Redis } from 'ioredis';
import { type Logger, logger as defaultLogger } from './observability/logger.js';

export interface RedisClientOptions {
  /** What the client is for, named in its log lines. */
  role: 'change-publish' | 'change-subscribe' | 'rate-limit' | 'key-revocations';
  logger?: Logger;
}

export function createRedisClient(url: string, { role, logger = defaultLogger }: RedisClientOptions): Redis {
  const client = new Redis(url, {
    // While Redis is away, commands fail at once instead of piling up: the callers fall
    // back right away, and a change queued for minutes would be stale once sent.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A Redis that stops answering without closing the connection must not hold requests.
    commandTimeout: 1_000,
    // Reconnect for as long as it takes, trying at least once a second.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    // ioredis re-subscribes with promises nobody catches; the change bus re-subscribes itself.
    autoResubscribe: false,
  });
  // Without a listener ioredis reports every failed reconnect attempt on stderr; one
  // warning per outage is what an operator needs.
  let down = false;
  client.on('error', (error: NodeJS.ErrnoException) => {
    if (down) return;
    down = true;
    logger.warn({ redis: role, error: error.code ?? error.message }, 'Redis unavailable: working without it until it is back');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({ redis: role }, 'Redis is back');
  });
  return client;
}
