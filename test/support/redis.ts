// Whether the machine's Redis answers: tests that need it skip (with a notice) where it
// does not, and run wherever it does (CI's machine has one).
import { Redis } from 'ioredis';

export const TEST_REDIS = { host: '127.0.0.1', port: 6379, url: 'redis://127.0.0.1:6379' } as const;

export async function redisAnswers(): Promise<boolean> {
  const redis = new Redis(TEST_REDIS.port, TEST_REDIS.host, { connectTimeout: 1_000, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
