// The delivery side of the webhook outbox (rows written by src/domain/webhook-events.ts):
// which deliveries are due, claiming them so that one instance tries each at a time, and
// what an attempt's outcome does (delivered; retried later with exponential backoff and
// jitter; given up after the retry window; the endpoint turned off when it has failed for
// that long). Sending is not the domain's business (src/webhooks/send.ts).
import type { PrismaClient } from '../database/generated/prisma/client.js';
import { TRANSACTION_OPTIONS } from './transactions.js';

export interface RetryPolicy {
  /** The wait after the first failed attempt; it doubles with each further one. */
  baseDelayMs: number;
  /** No wait is longer than this. */
  maxDelayMs: number;
  /** A delivery still failing this long after its event is given up; an endpoint failing this long is turned off. */
  windowMs: number;
  /** How long a claimed attempt may take before another worker may try the delivery again. */
  leaseMs: number;
}

const HOUR = 60 * 60_000;

/**
 * The wait before attempt `attempts + 1`, after `attempts` failed ones: exponential, capped,
 * with "equal jitter" (half fixed, half random) so that the deliveries of an endpoint that
 * came back do not all retry at the same moment.
 */
export function retryDelayMs(attempts: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempts - 1, 40));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

export interface ClaimedDelivery {
  id: string;
  organizationId: string;
  endpointId: string;
  url: string;
  secret: string;
  eventType: string;
  flowRun: Record<string, unknown>;
  occurredAt: Date;
  createdAt: Date;
  /** Counting the attempt now being made. */
  attempts: number;
}

/**
 * How many attempts one worker may have under way: in all, to one endpoint, and for one
 * organization. The last two keep one organization's endpoints that hang (each attempt
 * taking the whole timeout) from taking every slot: they hold at most `perOrganization`,
 * the others' deliveries take the rest.
 */
export interface ClaimLimits {
  total: number;
  perEndpoint: number;
  perOrganization: number;
}

export const DEFAULT_CLAIM_LIMITS: ClaimLimits = { total: 32, perEndpoint: 4, perOrganization: 8 };

/** The attempts a worker has under way now, by endpoint and by organization. */
export interface AttemptsUnderWay {
  total: number;
  byEndpoint: ReadonlyMap<string, number>;
  byOrganization: ReadonlyMap<string, number>;
}

const countsJson = (counts: ReadonlyMap<string, number>) => JSON.stringify(Object.fromEntries(counts));

/**
 * Claims due deliveries of enabled endpoints for one attempt each, within the limits given
 * what is under way: their next attempt moves to the end of a lease, so no other worker
 * takes them meanwhile, and an attempt cut short (the instance died) is made again once the
 * lease ends. Workers on several instances skip each other's rows (SKIP LOCKED). A delivery
 * waits while an earlier one of the same run to the same endpoint is pending: a run's
 * events arrive in order.
 *
 * Fair: each endpoint's due deliveries are taken in order, up to its room; then each
 * organization's, round robin over its endpoints, up to its room; then round robin over
 * the organizations (every organization's first before any one's second), oldest first
 * within a round. The limits hold per worker: with several instances, each has its own.
 */
export async function claimDueDeliveries(
  prisma: PrismaClient,
  now: Date,
  limits: ClaimLimits,
  underWay: AttemptsUnderWay,
  policy: RetryPolicy,
): Promise<ClaimedDelivery[]> {
  const room = limits.total - underWay.total;
  if (room <= 0) return [];
  const leaseEnd = new Date(now.getTime() + policy.leaseMs);
  return prisma.$queryRaw<ClaimedDelivery[]>`
    WITH endpoint_room AS (
      SELECT endpoint.id,
             ${limits.perEndpoint}::int - COALESCE((${countsJson(underWay.byEndpoint)}::jsonb ->> endpoint.id::text)::int, 0) AS room
      FROM "WebhookEndpoint" AS endpoint
      WHERE endpoint.enabled
    ), candidate AS (
      SELECT pick.*
      FROM endpoint_room
      CROSS JOIN LATERAL (
        SELECT delivery.id, delivery."organizationId", delivery."nextAttemptAt", delivery.sequence,
               row_number() OVER (ORDER BY delivery."nextAttemptAt", delivery.sequence) AS endpoint_round
        FROM "WebhookDelivery" AS delivery
        WHERE delivery."endpointId" = endpoint_room.id AND delivery.status = 'pending'
          AND delivery."nextAttemptAt" <= ${now}::timestamptz
          AND NOT EXISTS (
            SELECT 1 FROM "WebhookDelivery" AS earlier
            WHERE earlier."endpointId" = delivery."endpointId" AND earlier."flowRunId" = delivery."flowRunId"
              AND earlier.status = 'pending' AND earlier.sequence < delivery.sequence
          )
        ORDER BY delivery."nextAttemptAt", delivery.sequence
        LIMIT endpoint_room.room
      ) AS pick
      WHERE endpoint_room.room > 0
    ), ranked AS (
      SELECT candidate.id, candidate."nextAttemptAt", candidate.sequence,
             COALESCE((${countsJson(underWay.byOrganization)}::jsonb ->> candidate."organizationId"::text)::int, 0)
               + row_number() OVER (PARTITION BY candidate."organizationId"
                                    ORDER BY candidate.endpoint_round, candidate."nextAttemptAt", candidate.sequence) AS organization_round
      FROM candidate
    ), chosen AS (
      SELECT ranked.id FROM ranked
      WHERE ranked.organization_round <= ${limits.perOrganization}::int
      ORDER BY ranked.organization_round, ranked."nextAttemptAt", ranked.sequence
      LIMIT ${room}::int
    ), due AS (
      SELECT delivery.id FROM "WebhookDelivery" AS delivery
      WHERE delivery.id IN (SELECT chosen.id FROM chosen) AND delivery.status = 'pending'
        AND delivery."nextAttemptAt" <= ${now}::timestamptz
      FOR UPDATE SKIP LOCKED
    )
    UPDATE "WebhookDelivery" AS delivery
    SET "nextAttemptAt" = ${leaseEnd}::timestamptz, attempts = delivery.attempts + 1
    FROM due, "WebhookEndpoint" AS endpoint
    WHERE delivery.id = due.id AND endpoint.id = delivery."endpointId"
    RETURNING delivery.id::text, delivery."organizationId"::text, delivery."endpointId"::text, endpoint.url, endpoint.secret,
              delivery."eventType", delivery."flowRun", delivery."occurredAt", delivery."createdAt", delivery.attempts`;
}

export type AttemptResult = 'delivered' | 'retrying' | 'failed';

/**
 * Why an attempt failed, as the client is told (the delivery's `lastError`): a category,
 * never the socket's or TLS library's own words, nor an address. Those would make
 * deliveries a scanner of the private network (which ports are open, which names resolve,
 * what certificates answer); the detail goes to the log only.
 * - `refused`: no connection was made (the name did not resolve, the connection was refused
 *   or reset, or the address is not a public one)
 * - `timed out`: no complete answer within the attempt's time
 * - `TLS failed`: the TLS handshake failed (not TLS on that port, a certificate not trusted
 *   or not for that name)
 * - `HTTP <status>`: an answer that is not 2xx (redirects included: they are not followed)
 */
export type AttemptFailure = 'refused' | 'timed out' | 'TLS failed' | `HTTP ${number}`;

export type AttemptOutcome =
  | { delivered: true; responseStatus: number }
  | { delivered: false; responseStatus?: number; error: AttemptFailure /** For the log only. */; detail?: string };

/** Records an attempt's outcome; returns what became of the delivery. */
export async function recordAttempt(
  prisma: PrismaClient,
  delivery: ClaimedDelivery,
  outcome: AttemptOutcome,
  now: Date,
  policy: RetryPolicy,
): Promise<AttemptResult> {
  if (outcome.delivered) {
    await prisma.$transaction([
      prisma.webhookDelivery.update({
        where: { id: delivery.id },
        data: { status: 'delivered', deliveredAt: now, lastResponseStatus: outcome.responseStatus, lastError: null },
      }),
      prisma.webhookEndpoint.updateMany({ where: { id: delivery.endpointId, failingSince: { not: null } }, data: { failingSince: null } }),
    ]);
    return 'delivered';
  }
  const givenUp = now.getTime() - delivery.occurredAt.getTime() >= policy.windowMs;
  const lastError = outcome.error;
  return prisma.$transaction(async (tx) => {
    // Only while pending: a delivery dropped meanwhile keeps its status and reason.
    await tx.webhookDelivery.updateMany({
      where: { id: delivery.id, status: 'pending' },
      data: {
        lastResponseStatus: outcome.responseStatus ?? null,
        lastError,
        ...(givenUp ? { status: 'failed' } : { nextAttemptAt: new Date(now.getTime() + retryDelayMs(delivery.attempts, policy)) }),
      },
    });
    // The endpoint has been failing since the first event it failed to take after its last
    // success: so a delivery given up after the whole window turns it off too.
    const [endpoint] = await tx.$queryRaw<{ failingSince: Date }[]>`
      UPDATE "WebhookEndpoint" SET "failingSince" = COALESCE("failingSince", ${delivery.occurredAt}::timestamptz)
      WHERE id = ${delivery.endpointId}::uuid
      RETURNING "failingSince"`;
    if (endpoint && now.getTime() - endpoint.failingSince.getTime() >= policy.windowMs) {
      await disableFailingEndpoint(tx, delivery.endpointId, endpoint.failingSince, now);
    }
    return givenUp ? 'failed' : 'retrying';
  }, TRANSACTION_OPTIONS);
}

type Transaction = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/** Turns the endpoint off and gives up its pending deliveries: nobody is listening there. */
async function disableFailingEndpoint(tx: Transaction, endpointId: string, since: Date, now: Date) {
  const hours = Math.round((now.getTime() - since.getTime()) / HOUR);
  await tx.webhookEndpoint.update({
    where: { id: endpointId },
    data: {
      enabled: false,
      disabledReason: `turned off at ${now.toISOString()}: every delivery attempt failed for ${hours} hours (since ${since.toISOString()})`,
    },
  });
  await tx.webhookDelivery.updateMany({
    where: { endpointId, status: 'pending' },
    data: { status: 'failed', lastError: 'the endpoint was turned off for failing' },
  });
}

/**
 * The most deliveries one endpoint may have pending. An endpoint that is down piles up
 * every event for the whole retry window; beyond this many the oldest are dropped: they
 * are the nearest to being given up anyway, and the newest tell the current state of the
 * runs.
 */
export const MAX_PENDING_DELIVERIES_PER_ENDPOINT = 10_000;

const droppedReason = (max: number) => `dropped: more than ${max} deliveries were pending for this endpoint, and this was among the oldest`;

/**
 * Drops the oldest pending deliveries of every endpoint that has more than `max`, keeping
 * its newest `max`; returns how many it dropped, by endpoint. Several workers may run it at
 * once: each drops only what is still pending.
 */
export async function dropOverflowingDeliveries(
  prisma: PrismaClient,
  max = MAX_PENDING_DELIVERIES_PER_ENDPOINT,
): Promise<{ endpointId: string; organizationId: string; dropped: number }[]> {
  const rows = await prisma.$queryRaw<{ endpointId: string; organizationId: string; dropped: bigint }[]>`
    WITH crowded AS (
      SELECT delivery."endpointId" FROM "WebhookDelivery" AS delivery
      WHERE delivery.status = 'pending'
      GROUP BY delivery."endpointId"
      HAVING count(*) > ${max}::int
    ), overflow AS (
      SELECT oldest.id FROM crowded
      CROSS JOIN LATERAL (
        SELECT delivery.id FROM "WebhookDelivery" AS delivery
        WHERE delivery."endpointId" = crowded."endpointId" AND delivery.status = 'pending'
        ORDER BY delivery.sequence DESC
        OFFSET ${max}::int
      ) AS oldest
    ), dropped AS (
      UPDATE "WebhookDelivery" AS delivery
      SET status = 'dropped', "lastError" = ${droppedReason(max)}
      FROM overflow
      WHERE delivery.id = overflow.id AND delivery.status = 'pending'
      RETURNING delivery."endpointId", delivery."organizationId"
    )
    SELECT "endpointId"::text, "organizationId"::text, count(*) AS dropped FROM dropped GROUP BY "endpointId", "organizationId"`;
  return rows.map((row) => ({ ...row, dropped: Number(row.dropped) }));
}

export interface DeliveryQueueStats {
  /** Pending deliveries of enabled endpoints. */
  depth: number;
  /** Age of the oldest of them, 0 when there is none. */
  oldestAgeSeconds: number;
}

export async function deliveryQueueStats(prisma: PrismaClient, now: Date): Promise<DeliveryQueueStats> {
  const [row] = await prisma.$queryRaw<{ depth: bigint; oldest: Date | null }[]>`
    SELECT count(*) AS depth, min(delivery."createdAt") AS oldest
    FROM "WebhookDelivery" AS delivery
    JOIN "WebhookEndpoint" AS endpoint ON endpoint.id = delivery."endpointId" AND endpoint.enabled
    WHERE delivery.status = 'pending'`;
  return {
    depth: Number(row?.depth ?? 0),
    oldestAgeSeconds: row?.oldest ? Math.max(0, (now.getTime() - row.oldest.getTime()) / 1000) : 0,
  };
}
