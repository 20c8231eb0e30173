// The audit log: who changed an API key or a webhook endpoint, what they did and when.
// Each event is written in the transaction of the change it records, so there is no
// change without its event and no event for a change that rolled back. The table is
// append-only in the database itself (a trigger refuses UPDATE, DELETE and TRUNCATE).
import { randomUUID } from 'node:crypto';
import type { Prisma, PrismaClient } from '../database/generated/prisma/client.js';
import { DomainError } from './errors.js';

export type AuditAction =
  | 'apiKey.created'
  | 'apiKey.revoked'
  | 'apiKey.rotated'
  | 'webhookEndpoint.created'
  | 'webhookEndpoint.updated'
  | 'webhookEndpoint.deleted'
  | 'webhookEndpoint.secretRotated';

export type AuditSubjectType = 'apiKey' | 'webhookEndpoint';

export interface AuditEventInput {
  organizationId: string;
  /** Who acted: `apiKeyActor(id)` for a request, `cliActor(user)` for the CLI. */
  actor: string;
  action: AuditAction;
  subjectType: AuditSubjectType;
  subjectId: string;
  /** What an auditor needs to make sense of the change; never a secret or a hash of one. */
  details?: Prisma.InputJsonObject;
}

/** The actor for a change made through the API with this key. */
export const apiKeyActor = (apiKeyId: string) => `apiKey:${apiKeyId}`;
/** The actor for a change made with the administration CLI by this operating-system user. */
export const cliActor = (user: string) => `cli:${user}`;

const MAX_ACTOR_LENGTH = 200;

/**
 * The part of a Prisma client an event needs: a transaction of the plain client or of a
 * tenant-scoped one both fit. Pass the transaction that makes the change.
 */
export interface AuditLogWriter {
  auditEvent: {
    create(args: { data: Prisma.AuditEventUncheckedCreateInput; select: { id: true } }): PromiseLike<{ id: string }>;
  };
}

/** Appends one event; returns its id. Call it inside the transaction of the change. */
export async function recordAuditEvent(tx: AuditLogWriter, event: AuditEventInput): Promise<string> {
  const actor = event.actor.trim();
  // A change nobody can be held to is refused (and, thrown inside the transaction, undone).
  if (!actor || actor.length > MAX_ACTOR_LENGTH) {
    throw new DomainError('VALIDATION_FAILED', `actor: must be 1 to ${MAX_ACTOR_LENGTH} characters`, ['actor']);
  }
  const created = await tx.auditEvent.create({
    data: {
      id: randomUUID(),
      organizationId: event.organizationId,
      actor,
      action: event.action,
      subjectType: event.subjectType,
      subjectId: event.subjectId,
      details: event.details ?? {},
    },
    select: { id: true },
  });
  return created.id;
}

export interface AuditEvent {
  id: string;
  occurredAt: Date;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Prisma.JsonValue;
}

export const MAX_AUDIT_LIST_LIMIT = 1000;

/** An organization's events, newest first (the order they were written in). */
export async function listAuditEvents(prisma: PrismaClient, organizationId: string, limit = 50): Promise<AuditEvent[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIST_LIMIT) {
    throw new DomainError('VALIDATION_FAILED', `limit: must be a whole number from 1 to ${MAX_AUDIT_LIST_LIMIT}`, ['limit']);
  }
  const organization = await prisma.organization.findUnique({ where: { id: organizationId }, select: { id: true } });
  if (!organization) throw new DomainError('NOT_FOUND', `organization ${organizationId} not found`);
  return prisma.auditEvent.findMany({
    where: { organizationId },
    orderBy: { sequence: 'desc' },
    take: limit,
    select: { id: true, occurredAt: true, actor: true, action: true, subjectType: true, subjectId: true, details: true },
  });
}
