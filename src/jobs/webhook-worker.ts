// Delivers the webhook outbox. Every instance runs one: it claims due deliveries
// (src/domain/webhook-deliveries.ts: SKIP LOCKED and a lease, so instances share the work
// and a delivery is tried by one at a time), POSTs each signed, and records the outcome.
// It looks for work every pollIntervalMs, and at once when this instance has just
// committed a change (wake), so that a delivery usually leaves within milliseconds.
// It has at most limits.total attempts under way, and fewer for one endpoint or one
// organization (claimDueDeliveries), so that endpoints that hang cannot take every slot.
import type { PrismaClient } from '../database/generated/prisma/client.js';
import type { Clock } from '../domain/flow-run-changes.js';
import {
  type AttemptResult,
  type ClaimedDelivery,
  type ClaimLimits,
  claimDueDeliveries,
  DEFAULT_CLAIM_LIMITS,
  dropOverflowingDeliveries,
  type RetryPolicy,
  recordAttempt,
} from '../domain/webhook-deliveries.js';
import { renderFlowRun } from '../webhooks/body.js';
import { logger } from '../observability/logger.js';
import { sendWebhook } from '../webhooks/send.js';
import { webhookHeaders } from '../webhooks/signature.js';

/** WEBHOOK_TIMEOUT_MS's default. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000;

export interface WebhookWorkerOptions {
  clock: Clock;
  retry: RetryPolicy;
  pollIntervalMs: number;
  /** A 2xx within this long counts as delivered (default: DEFAULT_ATTEMPT_TIMEOUT_MS). */
  timeoutMs?: number;
  allowPrivateUrls: boolean;
  /** Attempts under way at once on this instance: in all, per endpoint, per organization. */
  limits?: ClaimLimits;
  /** Told of each attempt's result (metrics). */
  onAttempt?: (result: AttemptResult) => void;
  /** Told how many pending deliveries it dropped (an endpoint had too many; metrics). */
  onDropped?: (count: number) => void;
}

export interface WebhookWorker {
  /** Look for due deliveries now (something was just committed). */
  wake(): void;
  /** Stops claiming and waits for the attempts under way. */
  stop(): Promise<void>;
}

/** The body of an event: the same on every attempt. */
export function webhookBody(delivery: Pick<ClaimedDelivery, 'eventType' | 'occurredAt' | 'flowRun'>): string {
  return JSON.stringify({
    type: delivery.eventType,
    timestamp: new Date(delivery.occurredAt).toISOString(),
    data: { flowRun: renderFlowRun(delivery.flowRun) },
  });
}

export function startWebhookWorker(prisma: PrismaClient, options: WebhookWorkerOptions): WebhookWorker {
  const limits = options.limits ?? DEFAULT_CLAIM_LIMITS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const inFlight = new Set<Promise<void>>();
  const byEndpoint = new Map<string, number>();
  const byOrganization = new Map<string, number>();
  const count = (counts: Map<string, number>, key: string, change: number) => {
    const next = (counts.get(key) ?? 0) + change;
    if (next > 0) counts.set(key, next);
    else counts.delete(key);
  };
  let stopped = false;
  let looking: Promise<void> | undefined;
  let lookAgain = false;

  async function attempt(delivery: ClaimedDelivery) {
    const body = webhookBody(delivery);
    const headers = webhookHeaders(delivery.secret, delivery.id, body, options.clock.now());
    const outcome = await sendWebhook(delivery.url, headers, body, {
      timeoutMs,
      allowPrivate: options.allowPrivateUrls,
    });
    try {
      const result = await recordAttempt(prisma, delivery, outcome, options.clock.now(), options.retry);
      options.onAttempt?.(result);
      if (result !== 'delivered') {
        logger.info(
          {
            deliveryId: delivery.id,
            endpointId: delivery.endpointId,
            attempts: delivery.attempts,
            result,
            url: delivery.url,
            error: 'error' in outcome ? outcome.error : undefined,
            // What the client is not told (src/domain/webhook-deliveries.ts, AttemptFailure).
            detail: 'detail' in outcome ? outcome.detail : undefined,
          },
          'webhook attempt failed',
        );
      }
    } catch (error) {
      // The lease runs out and the delivery is tried again: at least once, never lost.
      logger.warn({ err: error, deliveryId: delivery.id }, 'could not record a webhook attempt; it is retried after its lease');
    }
  }

  // How often the queue of each endpoint is held to its bound.
  const OVERFLOW_CHECK_MS = 10_000;
  let overflowCheckedAt = Number.NEGATIVE_INFINITY;
  async function dropOverflow() {
    const now = options.clock.now().getTime();
    if (now - overflowCheckedAt < OVERFLOW_CHECK_MS) return;
    overflowCheckedAt = now;
    try {
      for (const { endpointId, organizationId, dropped } of await dropOverflowingDeliveries(prisma)) {
        logger.warn({ endpointId, organizationId, dropped }, 'webhook endpoint had too many pending deliveries; the oldest were dropped');
        options.onDropped?.(dropped);
      }
    } catch (error) {
      logger.warn({ err: error }, 'could not hold the webhook queues to their bound; the next check tries again');
    }
  }

  async function claimAndSend() {
    await dropOverflow();
    do {
      lookAgain = false;
      while (!stopped && inFlight.size < limits.total) {
        let claimed: ClaimedDelivery[];
        try {
          const underWay = { total: inFlight.size, byEndpoint, byOrganization };
          claimed = await claimDueDeliveries(prisma, options.clock.now(), limits, underWay, options.retry);
        } catch (error) {
          logger.warn({ err: error }, 'webhook claim failed; the next tick tries again');
          return;
        }
        if (!claimed.length) break;
        for (const delivery of claimed) {
          count(byEndpoint, delivery.endpointId, 1);
          count(byOrganization, delivery.organizationId, 1);
          const running: Promise<void> = attempt(delivery).finally(() => {
            inFlight.delete(running);
            count(byEndpoint, delivery.endpointId, -1);
            count(byOrganization, delivery.organizationId, -1);
            // A slot is free, and this run's next event may be due now.
            wake();
          });
          inFlight.add(running);
        }
      }
    } while (lookAgain && !stopped);
  }

  function wake() {
    if (stopped) return;
    if (looking) {
      lookAgain = true;
      return;
    }
    looking = claimAndSend().finally(() => (looking = undefined));
  }

  const timer = setInterval(wake, options.pollIntervalMs);
  timer.unref();
  wake();

  return {
    wake,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await looking;
      await Promise.all(inFlight);
    },
  };
}
