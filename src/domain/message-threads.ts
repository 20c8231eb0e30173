// Message threads: one conversation on one channel with one person. A thread with runs
// cannot be deleted (docs/API.md, "Resources"); (channel, identifier) is unique per organization.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { MessageThread } from '../database/generated/prisma/client.js';
import { isRecordNotFound, isUniqueViolation } from './database-errors.js';
import { deleteUnlessItHasRuns } from './deletion.js';
import { DomainError, notFound } from './errors.js';
import type { Channel } from './flow-run-input.js';
import { assertCanWrite, type Tenant } from './tenant.js';
import { inTransaction } from './transactions.js';
import { parseInput } from './validation.js';

export type { MessageThread };

export const CHANNELS = ['whatsapp', 'sms', 'email', 'web'] as const satisfies readonly Channel[];

// whatsapp and sms: the digits of an E.164 number without "+" (country code first).
const phoneDigits = z.string().regex(/^[1-9][0-9]{6,14}$/, 'must be the digits of an E.164 number without "+", e.g. 31652071191');
const identifierFor: Record<Channel, z.ZodType<string>> = {
  whatsapp: phoneDigits,
  sms: phoneDigits,
  email: z.email('must be an email address').max(320),
  web: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
};

// What an identifier of some channel is, when the channel is not known.
const anyIdentifier = z.string().min(1, 'must not be empty').max(320, 'must be at most 320 characters');

const threadSchema = z
  .object({
    channel: z.enum(CHANNELS, `must be one of ${CHANNELS.join(', ')}`),
    identifier: z.string(),
    candidateId: z.uuid('must be a UUID').nullable(),
  })
  .superRefine((thread, ctx) => {
    const result = identifierFor[thread.channel].safeParse(thread.identifier);
    if (!result.success) {
      ctx.addIssue({
        code: 'custom',
        path: ['identifier'],
        message: result.error.issues[0]?.message ?? `is not a valid ${thread.channel} identifier`,
      });
    }
  });

export interface MessageThreadInput {
  channel?: Channel | null;
  identifier?: string | null;
  candidateId?: string | null;
}

export interface MessageThreadFilter {
  channel?: Channel | null;
  identifier?: string | null;
}

/**
 * Which threads a list shows: the way to find the thread of a phone number or address
 * before creating one. An identifier is judged as a new thread's would be (by its channel
 * when one is given): a value no thread can have is refused, not answered with nothing.
 */
export function messageThreadWhere(filter: MessageThreadFilter | null | undefined) {
  const channel = filter?.channel ?? undefined;
  const identifier = filter?.identifier ?? undefined;
  if (identifier !== undefined) {
    const rule = channel ? identifierFor[channel] : anyIdentifier;
    parseInput(rule, identifier, ['filter', 'identifier']);
  }
  return { ...(channel && { channel }), ...(identifier !== undefined && { identifier }) };
}

/**
 * The thread that holds (channel, identifier), named in the error so that a client that
 * lost a race (or did not look first) can use it instead of creating another.
 */
const alreadyExists = (existingId: string) =>
  new DomainError('THREAD_ALREADY_EXISTS', 'a message thread with this channel and identifier already exists', ['identifier'], { existingId });

type ThreadKey = { channel: Channel; identifier: string };

const holderOf = async (tenant: Tenant, { channel, identifier }: ThreadKey) =>
  (await tenant.db.messageThread.findFirst({ where: { channel, identifier }, select: { id: true } }))?.id;

// A thread that holds the pair when the insert is refused can be deleted (or renamed)
// before it is looked up: then the pair is free again and the insert is tried again.
const CREATE_ATTEMPTS = 3;

export async function createMessageThread(tenant: Tenant, input: MessageThreadInput): Promise<MessageThread> {
  assertCanWrite(tenant);
  const data = parseInput(threadSchema, { ...input, candidateId: input.candidateId ?? null });
  for (let attempt = 1; ; attempt++) {
    try {
      return await tenant.db.messageThread.create({
        data: { ...data, id: randomUUID(), organizationId: tenant.organizationId },
      });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // The insert waited for the one that holds the pair to commit: it is visible now.
      const existingId = await holderOf(tenant, data);
      if (existingId) throw alreadyExists(existingId);
      if (attempt === CREATE_ATTEMPTS) throw error;
    }
  }
}

export async function updateMessageThread(tenant: Tenant, id: string, input: MessageThreadInput): Promise<MessageThread> {
  assertCanWrite(tenant);
  let wanted: ThreadKey | undefined;
  try {
    return await inTransaction(tenant.db, async (tx) => {
      // Locked while it is read, checked and written: a concurrent change of the channel
      // (or identifier) must not slip in between and leave a pair that is invalid together.
      const [current] = await tx.$queryRaw<{ channel: Channel; identifier: string; candidateId: string | null }[]>`
        SELECT channel::text AS channel, identifier, "candidateId"::text AS "candidateId" FROM "MessageThread"
        WHERE id = ${id}::uuid AND "organizationId" = ${tenant.organizationId}::uuid
        FOR NO KEY UPDATE`;
      if (!current) throw notFound('MessageThread');
      // The identifier is checked against the channel the thread will have afterwards.
      const data = parseInput(threadSchema, {
        channel: input.channel ?? current.channel,
        identifier: input.identifier ?? current.identifier,
        candidateId: input.candidateId === undefined ? current.candidateId : input.candidateId,
      });
      wanted = data;
      return tx.messageThread.update({ where: { id }, data });
    });
  } catch (error) {
    if (isUniqueViolation(error) && wanted) {
      const existingId = await holderOf(tenant, wanted);
      // Gone since: the pair is free, but this change was refused; the client may retry it.
      if (existingId) throw alreadyExists(existingId);
      throw new DomainError('CONCURRENT_CHANGE', 'the thread holding this channel and identifier changed meanwhile; retry');
    }
    if (isRecordNotFound(error)) throw notFound('MessageThread');
    throw error;
  }
}

export async function deleteMessageThread(tenant: Tenant, id: string): Promise<void> {
  assertCanWrite(tenant);
  await deleteUnlessItHasRuns('MessageThread', () => tenant.db.messageThread.delete({ where: { id } }));
}
