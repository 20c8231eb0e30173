// Prometheus metrics (prom-client), served at /metrics. Label values come from bounded
// sets only (route patterns, root field names, status codes), never from client input.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface WebhookQueueStats {
  depth: number;
  oldestAgeSeconds: number;
}

export interface MetricsOptions {
  poolStats?: () => PoolStats | undefined;
  /** The webhook outbox's pending deliveries, read when /metrics is scraped. */
  webhookQueue?: () => Promise<WebhookQueueStats | undefined>;
}

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by surface, route pattern, method and status.',
    labelNames: ['surface', 'route', 'method', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request (until the response starts), by surface and route pattern.',
    labelNames: ['surface', 'route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const graphqlOperations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations executed, by operation type, root field and outcome.',
    labelNames: ['type', 'field', 'outcome'] as const,
    registers: [registry],
  });
  const dbStatements = new Counter({
    name: 'db_statements_total',
    help: 'SQL statements sent by Prisma.',
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'rate_limit_rejections_total',
    help: 'Requests refused with 429 because their API key was over its rate.',
    registers: [registry],
  });
  const changePublishFailures = new Counter({
    name: 'change_publish_failures_total',
    help: 'Flow-run changes that could not be published to Redis: subscribers on other instances missed them.',
    registers: [registry],
  });
  if (options.poolStats) {
    const poolStats = options.poolStats;
    new Gauge({
      name: 'db_pool_connections',
      help: 'PostgreSQL pool connections by state (idle, busy) and requests waiting for one.',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const stats = poolStats();
        if (!stats) return;
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'busy' }, stats.total - stats.idle);
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
  }
  const webhookDeliveries = new Counter({
    name: 'webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts made by this instance, by outcome: delivered, retrying (failed, tried again later), failed (given up).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const webhookDeliveriesDropped = new Counter({
    name: 'webhook_deliveries_dropped_total',
    help: 'Pending webhook deliveries this instance dropped because their endpoint had more than 10,000 pending (the oldest go).',
    registers: [registry],
  });
  if (options.webhookQueue) {
    const webhookQueue = options.webhookQueue;
    // One query per scrape serves both gauges.
    let pending: Promise<WebhookQueueStats | undefined> | undefined;
    const read = () => {
      pending ??= webhookQueue()
        .catch(() => undefined)
        .finally(() => setImmediate(() => (pending = undefined)));
      return pending;
    };
    new Gauge({
      name: 'webhook_queue_depth',
      help: 'Webhook deliveries not yet delivered nor given up (enabled endpoints, every instance).',
      registers: [registry],
      async collect() {
        const stats = await read();
        if (stats) this.set(stats.depth);
      },
    });
    new Gauge({
      name: 'webhook_oldest_pending_age_seconds',
      help: 'Age of the oldest webhook delivery not yet delivered nor given up; 0 when there is none.',
      registers: [registry],
      async collect() {
        const stats = await read();
        if (stats) this.set(stats.oldestAgeSeconds);
      },
    });
  }
  return {
    registry,
    httpRequests,
    httpDuration,
    graphqlOperations,
    dbStatements,
    rateLimited,
    changePublishFailures,
    webhookDeliveries,
    webhookDeliveriesDropped,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
