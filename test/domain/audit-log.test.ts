// The audit log: an event is written in the transaction of its change (and undone with
// it), read back newest first per organization, and the database itself refuses to change
// or remove one, whoever asks.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyActor, cliActor, listAuditEvents, recordAuditEvent } from '../../src/domain/audit-log.ts';
import { inTransaction } from '../../src/domain/transactions.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { expectDomainError } from '../support/fixtures.ts';

describe.each(databaseTargets())('audit log on $name', (target) => {
  let db: TestDatabase;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    a = await createTestTenant(db, 'write', 'A');
    b = await createTestTenant(db, 'write', 'B');
  });
  afterAll(() => db.close());

  it('records events in the transaction of the change and lists them newest first, per organization', async () => {
    const subjectId = randomUUID();
    await db.prisma.$transaction(async (tx) => {
      await recordAuditEvent(tx, {
        organizationId: a.organizationId,
        actor: cliActor('ops'),
        action: 'apiKey.created',
        subjectType: 'apiKey',
        subjectId,
        details: { name: 'ci', access: 'read' },
      });
      await recordAuditEvent(tx, {
        organizationId: a.organizationId,
        actor: cliActor('ops'),
        action: 'apiKey.revoked',
        subjectType: 'apiKey',
        subjectId,
      });
    });
    // A tenant-scoped transaction (what a request holds) writes events too.
    await inTransaction(b.tenant.db, (tx) =>
      recordAuditEvent(tx, {
        organizationId: b.organizationId,
        actor: apiKeyActor(b.tenant.apiKeyId),
        action: 'webhookEndpoint.created',
        subjectType: 'webhookEndpoint',
        subjectId: randomUUID(),
      }),
    );

    const events = await listAuditEvents(db.prisma, a.organizationId);
    // Newest first; the oldest is the creation of the test organization's own key.
    expect(events.map((event) => [event.action, event.actor])).toEqual([
      ['apiKey.revoked', 'cli:ops'],
      ['apiKey.created', 'cli:ops'],
      ['apiKey.created', 'system'],
    ]);
    expect(events[1]).toMatchObject({
      actor: 'cli:ops',
      subjectType: 'apiKey',
      subjectId,
      details: { name: 'ci', access: 'read' },
    });
    expect(events[0]?.details).toEqual({});
    expect(events[0]?.occurredAt).toBeInstanceOf(Date);
    expect(await listAuditEvents(db.prisma, a.organizationId, 1)).toHaveLength(1);

    const other = await listAuditEvents(db.prisma, b.organizationId);
    expect(other).toHaveLength(2);
    expect(other[0]).toMatchObject({ action: 'webhookEndpoint.created', actor: `apiKey:${b.tenant.apiKeyId}` });
  });

  it('writes nothing when the change rolls back', async () => {
    const subjectId = randomUUID();
    await expect(
      db.prisma.$transaction(async (tx) => {
        await recordAuditEvent(tx, {
          organizationId: a.organizationId,
          actor: cliActor('ops'),
          action: 'apiKey.created',
          subjectType: 'apiKey',
          subjectId,
        });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await db.prisma.auditEvent.count({ where: { subjectId } })).toBe(0);
  });

  it('refuses an event without an actor', async () => {
    await expectDomainError(
      recordAuditEvent(db.prisma, {
        organizationId: a.organizationId,
        actor: '  ',
        action: 'apiKey.created',
        subjectType: 'apiKey',
        subjectId: randomUUID(),
      }),
      'VALIDATION_FAILED',
      ['actor'],
    );
  });

  it('is append-only in the database: UPDATE, DELETE and TRUNCATE fail and the event stays as written', async () => {
    const id = await recordAuditEvent(db.prisma, {
      organizationId: a.organizationId,
      actor: cliActor('ops'),
      action: 'apiKey.revoked',
      subjectType: 'apiKey',
      subjectId: randomUUID(),
    });
    const before = await db.prisma.auditEvent.findUniqueOrThrow({ where: { id } });

    await expect(db.sql.exec(`UPDATE "AuditEvent" SET "actor" = 'someone else' WHERE "id" = '${id}'`)).rejects.toThrow(/append-only: UPDATE/);
    await expect(db.prisma.auditEvent.update({ where: { id }, data: { action: 'apiKey.created' } })).rejects.toThrow(/append-only/);
    await expect(db.sql.exec(`DELETE FROM "AuditEvent" WHERE "id" = '${id}'`)).rejects.toThrow(/append-only: DELETE/);
    await expect(db.prisma.auditEvent.deleteMany({})).rejects.toThrow(/append-only/);
    await expect(db.sql.exec('TRUNCATE "AuditEvent"')).rejects.toThrow(/append-only: TRUNCATE/);

    expect(await db.prisma.auditEvent.findUniqueOrThrow({ where: { id } })).toEqual(before);
  });

  it('refuses a limit out of range', async () => {
    await expectDomainError(listAuditEvents(db.prisma, a.organizationId, 0), 'VALIDATION_FAILED');
    await expectDomainError(listAuditEvents(db.prisma, a.organizationId, 1001), 'VALIDATION_FAILED');
  });
});
