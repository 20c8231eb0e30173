// Requests per API key per minute: in memory by default (per instance), shared through
// Redis when REDIS_URL is set so that N instances do not allow N times the rate.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

export interface RateLimiter {
  /** Counts one request of the key (a hash of it is what is stored). */
  take(apiKey: string): Promise<RateDecision>;
}

export interface RateLimiterOptions {
  perMinute: number;
  /** Shares the counts between instances; without it, each instance counts alone. */
  redis?: Redis;
  /** Where the counts live in Redis (instances sharing a budget share the prefix). */
  keyPrefix?: string;
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter | undefined {
  if (options.perMinute <= 0) return undefined;
  const settings = { points: options.perMinute, duration: 60, keyPrefix: options.keyPrefix ?? 'flowgw-rate' };
  const limiter = options.redis
    ? new RateLimiterRedis({
        ...settings,
        storeClient: options.redis,
        // While Redis is away, count in this instance's memory until it is back.
        insuranceLimiter: new RateLimiterMemory(settings),
        rejectIfRedisNotReady: true,
      })
    : new RateLimiterMemory(settings);

  const headersOf = (result: RateLimiterRes) => ({
    'RateLimit-Limit': String(options.perMinute),
    'RateLimit-Remaining': String(Math.max(0, result.remainingPoints)),
    'RateLimit-Reset': String(Math.ceil(result.msBeforeNext / 1000)),
  });

  return {
    async take(apiKey) {
      const id = createHash('sha256').update(apiKey).digest('base64url').slice(0, 22);
      try {
        return { allowed: true, headers: headersOf(await limiter.consume(id)) };
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return {
          allowed: false,
          headers: { ...headersOf(rejection), 'Retry-After': String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))) },
        };
      }
    },
  };
}
