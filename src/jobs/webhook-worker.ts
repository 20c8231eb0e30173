// Delivers the webhook outbox. Every instance runs one: it claims due deliveries
// (src/domain/webhook-deliveries.ts: SKIP LOCKED and a lease, so instances share the work
// and a delivery is tried by one at a time), POSTs each signed, and records the outcome.
// It looks for work every pollIntervalMs, and at once when this instance has just
// committed a change (wake), so that a delivery usually leaves within milliseconds.
import type { PrismaClient } from '../database/generated/prisma/client.js';
import type { Clock } from '../domain/flow-run-changes.js';
import { type AttemptResult, type ClaimedDelivery, claimDueDeliveries, type RetryPolicy, recordAttempt } from '../domain/webhook-deliveries.js';
import { renderFlowRun } from '../webhooks/body.js';
import { logger } from '../observability/logger.js';
import { sendWebhook } from '../webhooks/send.js';
import { webhookHeaders } from '../webhooks/signature.js';

export interface WebhookWorkerOptions {
  clock: Clock;
  retry: RetryPolicy;
  pollIntervalMs: number;
  /** A 2xx within this long counts as delivered. */
  timeoutMs: number;
  allowPrivateUrls: boolean;
  /** Attempts under way at once on this instance. */
  concurrency?: number;
  /** Told of each attempt's result (metrics). */
  onAttempt?: (result: AttemptResult) => void;
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
  const concurrency = options.concurrency ?? 16;
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let looking: Promise<void> | undefined;
  let lookAgain = false;

  async function attempt(delivery: ClaimedDelivery) {
    const body = webhookBody(delivery);
    const headers = webhookHeaders(delivery.secret, delivery.id, body, options.clock.now());
    const outcome = await sendWebhook(delivery.url, headers, body, {
      timeoutMs: options.timeoutMs,
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

  async function claimAndSend() {
    do {
      lookAgain = false;
      while (!stopped && inFlight.size < concurrency) {
        let claimed: ClaimedDelivery[];
        try {
          claimed = await claimDueDeliveries(prisma, options.clock.now(), concurrency - inFlight.size, options.retry);
        } catch (error) {
          logger.warn({ err: error }, 'webhook claim failed; the next tick tries again');
          return;
        }
        if (!claimed.length) break;
        for (const delivery of claimed) {
          const running: Promise<void> = attempt(delivery).finally(() => {
            inFlight.delete(running);
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
