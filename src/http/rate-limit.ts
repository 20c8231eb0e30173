// Requests per API key per minute: in memory by default (per instance), shared through
// Redis when REDIS_URL is set so that N instances do not allow N times the rate. The
// per-address budgets of src/http/client-limits.ts are counted the same way.
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

export interface Budget {
  /** Takes one point of what `id` names (a hash of it is what is stored). */
  take(id: string): Promise<RateDecision>;
  /** Gives one point back: the request turned out not to be one that counts. */
  giveBack(id: string): Promise<void>;
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
  return createBudget({ ...options, keyPrefix: options.keyPrefix ?? 'flowgw-rate' });
}

/** `perMinute` points per id per minute (a fixed window from the id's first point). */
export function createBudget(options: RateLimiterOptions & { keyPrefix: string }): Budget {
  const settings = { points: options.perMinute, duration: 60, keyPrefix: options.keyPrefix };
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
  const hashOf = (id: string) => createHash('sha256').update(id).digest('base64url').slice(0, 22);

  return {
    async take(id) {
      try {
        return { allowed: true, headers: headersOf(await limiter.consume(hashOf(id))) };
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return {
          allowed: false,
          headers: { ...headersOf(rejection), 'Retry-After': String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))) },
        };
      }
    },
    async giveBack(id) {
      await limiter.reward(hashOf(id));
    },
  };
}
