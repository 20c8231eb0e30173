// Everything the service reads from its environment, read once and in one place.
import { DEFAULT_KEY_CACHE_TTL_MS } from './domain/organizations.js';
import type { RetryPolicy } from './domain/webhook-deliveries.js';
import { checkTrustProxy } from './http/client-limits.js';

export interface Config {
  port: number;
  /**
   * The address to listen on; undefined means every interface. Unset, the embedded demo
   * database listens on 127.0.0.1 only, a service on PostgreSQL on every interface.
   */
  host?: string;
  /** Connections in the PostgreSQL pool of each instance. */
  databasePoolSize: number;
  /** GraphiQL at GET /graphql; unset means on for the embedded demo database only. */
  graphiql?: boolean;
  /** When set, /metrics answers only `Authorization: Bearer <token>`; unset, only clients on this machine on the main port. */
  metricsToken?: string;
  /** When set, /metrics is served on this port only (bound to `host`), not on `port`. */
  metricsPort?: number;
  /** PostgreSQL connection string; unset means the embedded database. */
  databaseUrl?: string;
  /** Where the embedded database keeps its files. */
  dataDir: string;
  /** Apply pending migrations at start-up; off, `npm run migrate` does it as a deploy step. */
  migrateOnStart: boolean;
  /** Redis for subscription fan-out between instances; unset means in-process only. */
  redisUrl?: string;
  corsOrigins: string[];
  /** How often each instance looks for runs past their session timeout. */
  sweepIntervalMs: number;
  /** How long a stopping instance waits for requests in flight. */
  shutdownGraceMs: number;
  /** How long a stopping instance keeps accepting after /readyz turned 503. */
  shutdownDelayMs: number;
  /** Requests per API key per minute; 0 turns rate limiting off. */
  rateLimitPerMinute: number;
  /** Look-ups of keys not known to be valid per client address per minute; 0 = no limit. */
  authFailuresPerMinute: number;
  /** Requests without an API key per client address per minute; 0 = no limit. */
  keylessPerMinute: number;
  /** Proxies whose X-Forwarded-For names the client; none means the connection's peer is. */
  trustProxy: string[];
  /** A request not answered by then gets 503. */
  requestTimeoutMs: number;
  /** Subscriptions one API key may hold open over WebSocket on an instance at once. */
  maxSubscriptionsPerKey: number;
  /** Webhook endpoints may be http and on private, loopback or link-local addresses (tests, closed networks). */
  webhookAllowPrivateUrls: boolean;
  /** How often each instance looks for due webhook deliveries (it also looks at once after its own changes). */
  webhookPollIntervalMs: number;
  /** A webhook attempt not answered 2xx within this long failed. */
  webhookTimeoutMs: number;
  /** The wait after a webhook's first failed attempt; it doubles with each further one, up to webhookRetryMaxMs. */
  webhookRetryBaseMs: number;
  webhookRetryMaxMs: number;
  /** A delivery failing this long is given up, and an endpoint failing this long turned off. */
  webhookRetryWindowMs: number;
  /** How long an instance remembers a valid API key: how long a revoked key may keep working where no Redis told. */
  apiKeyCacheTtlMs: number;
  logLevel: LogLevel;
  /** Traces over OTLP/HTTP; undefined: off, and nothing of OpenTelemetry is loaded. */
  tracing?: TracingSettings;
}

export interface TracingSettings {
  serviceName?: string;
}

/**
 * Tracing is wanted when an OTLP endpoint is set and the SDK is not switched off (the
 * exporter reads the other standard OTEL_EXPORTER_OTLP_* variables itself).
 */
export function tracingSettings(env: NodeJS.ProcessEnv = process.env): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (!(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim())) return undefined;
  const serviceName = env.OTEL_SERVICE_NAME?.trim();
  return serviceName ? { serviceName } : {};
}

/** Defaults that the app applies too when a test or an embedding builds it without a Config. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_KEY = 100;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * LOG_LEVEL, read apart from the rest: the logger exists before the configuration is
 * read, to log why reading it failed. An unknown level gives undefined here (the logger
 * then starts at info) and is refused by readConfig, in a log line like any bad setting.
 */
export function logLevel(env: NodeJS.ProcessEnv = process.env): LogLevel | undefined {
  const raw = env.LOG_LEVEL?.trim().toLowerCase();
  if (!raw) return 'info';
  return LOG_LEVELS.find((known) => known === raw);
}

function checkedLogLevel(env: NodeJS.ProcessEnv): LogLevel {
  const level = logLevel(env);
  if (!level) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  return level;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function trustedProxies(env: NodeJS.ProcessEnv): string[] {
  const entries = (env.TRUST_PROXY ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  try {
    checkTrustProxy(entries);
  } catch (error) {
    throw new Error(`TRUST_PROXY must list addresses, subnets (10.0.0.0/8) or loopback, linklocal, uniquelocal: ${(error as Error).message}`);
  }
  return entries;
}

function boolean<Fallback extends boolean | undefined>(env: NodeJS.ProcessEnv, name: string, fallback: Fallback): boolean | Fallback {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`${name} must be true or false, got "${env[name]}"`);
}

function metricsPort(env: NodeJS.ProcessEnv, port: number): number | undefined {
  if (env.METRICS_PORT === undefined || env.METRICS_PORT.trim() === '') return undefined;
  const value = integer(env, 'METRICS_PORT', 0, 0, 65535);
  // 0 asks for any free port (tests), which cannot collide.
  if (value !== 0 && value === port) throw new Error(`METRICS_PORT must differ from PORT (both ${port})`);
  return value;
}

/**
 * The embedded database is the demo: its data and its write key are for whoever runs it,
 * so it stays on this machine unless HOST says otherwise. A service on PostgreSQL is a
 * deployment, reached through the network.
 */
function listenAddress(env: NodeJS.ProcessEnv, databaseUrl: string | undefined): string | undefined {
  const host = env.HOST?.trim();
  if (host) return host;
  return databaseUrl ? undefined : '127.0.0.1';
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = integer(env, 'PORT', 4000, 0, 65535);
  const databaseUrl = env.DATABASE_URL || undefined;
  return {
    port,
    host: listenAddress(env, databaseUrl),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1_000),
    graphiql: boolean(env, 'GRAPHIQL', undefined),
    metricsToken: env.METRICS_TOKEN || undefined,
    metricsPort: metricsPort(env, port),
    databaseUrl,
    dataDir: env.DATA_DIR || './.data',
    migrateOnStart: boolean(env, 'MIGRATE_ON_START', true),
    redisUrl: env.REDIS_URL || undefined,
    corsOrigins: (env.CORS_ORIGINS ?? '')
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
    sweepIntervalMs: integer(env, 'SWEEP_INTERVAL_MS', 5_000, 100, 3_600_000),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    shutdownDelayMs: integer(env, 'SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 6_000, 0, 10_000_000),
    authFailuresPerMinute: integer(env, 'AUTH_FAILURES_PER_MINUTE', 20, 0, 1_000_000),
    keylessPerMinute: integer(env, 'KEYLESS_REQUESTS_PER_MINUTE', 60, 0, 1_000_000),
    trustProxy: trustedProxies(env),
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, 100, 600_000),
    maxSubscriptionsPerKey: integer(env, 'MAX_SUBSCRIPTIONS_PER_KEY', DEFAULT_MAX_SUBSCRIPTIONS_PER_KEY, 1, 100_000),
    webhookAllowPrivateUrls: boolean(env, 'WEBHOOK_ALLOW_PRIVATE_URLS', false),
    webhookPollIntervalMs: integer(env, 'WEBHOOK_POLL_INTERVAL_MS', 1_000, 10, 3_600_000),
    webhookTimeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 600_000),
    webhookRetryBaseMs: integer(env, 'WEBHOOK_RETRY_BASE_MS', 5_000, 1, 86_400_000),
    webhookRetryMaxMs: integer(env, 'WEBHOOK_RETRY_MAX_MS', 3_600_000, 1, 86_400_000),
    webhookRetryWindowMs: integer(env, 'WEBHOOK_RETRY_WINDOW_MS', 86_400_000, 1_000, 30 * 86_400_000),
    apiKeyCacheTtlMs: integer(env, 'API_KEY_CACHE_TTL_MS', DEFAULT_KEY_CACHE_TTL_MS, 100, 600_000),
    logLevel: checkedLogLevel(env),
    tracing: tracingSettings(env),
  };
}

/** The webhook worker's retries, from the settings. */
export function webhookRetryPolicy(config: Config): RetryPolicy {
  return {
    baseDelayMs: config.webhookRetryBaseMs,
    maxDelayMs: config.webhookRetryMaxMs,
    windowMs: config.webhookRetryWindowMs,
    // Longer than an attempt may take and its outcome to be recorded: a delivery is tried
    // again by another worker only when its attempt surely ended (the instance died).
    leaseMs: 2 * config.webhookTimeoutMs + 5_000,
  };
}
