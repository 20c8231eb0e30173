// API keys over their life, in one process: names, expiry, revocation and rotation as
// authenticate sees them (a refused key is indistinguishable from an unknown one), the
// audit events written with each change, the coarse lastUsedAt, and two operators
// revoking one key at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey, listApiKeys, revokeApiKey, rotateApiKey } from '../../src/domain/api-keys.ts';
import { cliActor, listAuditEvents } from '../../src/domain/audit-log.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { type Authenticator, createAuthenticator } from '../../src/domain/organizations.ts';
import { defaultServices } from '../../src/domain/tenant.ts';
import type { Clock } from '../../src/domain/flow-run-changes.ts';
import { createOrganization } from '../../src/domain/organizations.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectDomainError } from '../support/fixtures.ts';
import { only } from '../support/items.ts';

const ACTOR = cliActor('ops');
const HOUR = 60 * 60_000;

/** A clock that reads `offsetMs` ahead of the real one. */
const later = (offsetMs: number): Clock => ({ now: () => new Date(Date.now() + offsetMs) });

describe.each(databaseTargets())('API key lifecycle on $name', (target) => {
  let db: TestDatabase;
  let authenticator: Authenticator;
  // The authenticator's clock: a check `aheadMs` in the future sets it for its call.
  let clockAheadMs = 0;
  let organizationId: string;
  let unknownRefusal: { code: string; message: string } | undefined;

  /** The error authenticate gives, or undefined when it lets the key in. */
  async function refusal(key: string, aheadMs = 0) {
    clockAheadMs = aheadMs;
    try {
      await authenticator.authenticate(key);
      return undefined;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      return { code: error.code, message: error.message };
    } finally {
      clockAheadMs = 0;
    }
  }

  beforeAll(async () => {
    db = await openTestDatabase(target);
    authenticator = createAuthenticator(db, { services: { ...defaultServices, clock: { now: () => later(clockAheadMs).now() } } });
    organizationId = (await createOrganization(db.prisma, 'Keys')).id;
    unknownRefusal = await refusal('frg_never-issued');
    expect(unknownRefusal).toEqual({ code: 'UNAUTHENTICATED', message: 'the API key is not valid' });
  });
  afterAll(() => db.close());

  it('lists a key by name with its access, times and state, never the key or its hash', async () => {
    const expiresAt = new Date(Date.now() + 24 * HOUR);
    const { key, apiKey } = await issueApiKey(db.prisma, { organizationId, access: 'read', name: ' ci ', expiresAt, actor: ACTOR });
    expect(apiKey).toMatchObject({ organizationId, name: 'ci', access: 'read', expiresAt, lastUsedAt: null, revokedAt: null });

    const listed = (await listApiKeys(db.prisma, organizationId)).find((row) => row.id === apiKey.id)!;
    expect(listed).toEqual(apiKey);
    expect(JSON.stringify(listed)).not.toContain(key);
    expect(Object.keys(listed).sort()).toEqual(['access', 'createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'organizationId', 'revokedAt']);

    const [created] = await listAuditEvents(db.prisma, organizationId, 1);
    expect(created).toMatchObject({
      actor: 'cli:ops',
      action: 'apiKey.created',
      subjectType: 'apiKey',
      subjectId: apiKey.id,
      details: { name: 'ci', access: 'read', expiresAt: expiresAt.toISOString() },
    });
  });

  it('refuses bad names and expiries, creating nothing', async () => {
    const before = await db.prisma.apiKey.count();
    await expect(issueApiKey(db.prisma, { organizationId, access: 'write', name: '  ', actor: ACTOR })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      path: ['name'],
    });
    await expect(issueApiKey(db.prisma, { organizationId, access: 'write', name: 'a\tb', actor: ACTOR })).rejects.toMatchObject({ path: ['name'] });
    await expectDomainError(
      issueApiKey(db.prisma, { organizationId, access: 'write', expiresAt: new Date(Date.now() - 1), actor: ACTOR }),
      'VALIDATION_FAILED',
      ['expiresAt'],
    );
    expect(await db.prisma.apiKey.count()).toBe(before);
  });

  it('judges "in the future" by the clock it is given, not the wall clock', async () => {
    const before = await db.prisma.apiKey.count();
    const inAnHour = new Date(Date.now() + HOUR);
    const clock = later(2 * HOUR);
    await expect(issueApiKey(db.prisma, { organizationId, access: 'read', expiresAt: inAnHour, actor: ACTOR }, clock)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      path: ['expiresAt'],
    });
    const { apiKey } = await issueApiKey(db.prisma, { organizationId, access: 'read', actor: ACTOR });
    await expect(rotateApiKey(db.prisma, apiKey.id, { overlapMs: 0, expiresAt: inAnHour, actor: ACTOR }, clock)).rejects.toMatchObject({
      path: ['expiresAt'],
    });
    // Revoked at the clock's time.
    const revoked = await revokeApiKey(db.prisma, apiKey.id, ACTOR, clock);
    expect(revoked.revokedAt!.getTime()).toBeGreaterThanOrEqual(Date.now() + HOUR);
    expect(await db.prisma.apiKey.count()).toBe(before + 1);
  });

  it('refuses an expired key exactly like an unknown one, even while it is remembered', async () => {
    const { key } = await issueApiKey(db.prisma, { organizationId, access: 'write', expiresAt: new Date(Date.now() + HOUR), actor: ACTOR });
    expect(await refusal(key)).toBeUndefined(); // now remembered as valid
    expect(await refusal(key, HOUR + 1_000)).toEqual(unknownRefusal);
    // Looked up afresh, too.
    authenticator.forgetAllApiKeys();
    expect(await refusal(key, HOUR + 1_000)).toEqual(unknownRefusal);
  });

  it('refuses a revoked key like an unknown one once the instance forgets it; revoking twice changes nothing', async () => {
    const { key, apiKey } = await issueApiKey(db.prisma, { organizationId, access: 'write', name: 'leaked', actor: ACTOR });
    expect(await refusal(key)).toBeUndefined();

    const revoked = await revokeApiKey(db.prisma, apiKey.id, ACTOR);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    // Remembered: it still works here until told (through Redis) or until the cache entry ages out.
    expect(await refusal(key)).toBeUndefined();
    authenticator.forgetApiKeys([apiKey.id]);
    expect(await refusal(key)).toEqual(unknownRefusal);

    await expect(revokeApiKey(db.prisma, apiKey.id, ACTOR)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/already revoked/),
    });
    await expectDomainError(revokeApiKey(db.prisma, '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', ACTOR), 'NOT_FOUND');
    const events = await db.prisma.auditEvent.findMany({ where: { subjectId: apiKey.id }, orderBy: { sequence: 'asc' } });
    expect(events.map((event) => event.action)).toEqual(['apiKey.created', 'apiKey.revoked']);
  });

  it('rotates: a successor with the same organization, access and name; the old key works through the overlap only', async () => {
    const { key: oldKey, apiKey: old } = await issueApiKey(db.prisma, { organizationId, access: 'read', name: 'partner', actor: ACTOR });
    expect(await refusal(oldKey)).toBeUndefined();

    const { key: newKey, apiKey: successor, replaced } = await rotateApiKey(db.prisma, old.id, { overlapMs: HOUR, actor: ACTOR });
    expect(successor).toMatchObject({ organizationId, access: 'read', name: 'partner', expiresAt: null, revokedAt: null });
    expect(successor.id).not.toBe(old.id);
    expect(replaced.expiresAt!.getTime()).toBeGreaterThan(Date.now() + HOUR - 60_000);
    authenticator.forgetApiKeys([old.id]);

    expect(await authenticator.authenticate(newKey)).toMatchObject({ organizationId, access: 'read', apiKeyId: successor.id });
    expect(await refusal(oldKey)).toBeUndefined(); // within the overlap
    expect(await refusal(oldKey, HOUR + 60_000)).toEqual(unknownRefusal); // after it
    expect(await refusal(newKey, HOUR + 60_000)).toBeUndefined();

    const events = await listAuditEvents(db.prisma, organizationId, 2);
    expect(events.map((event) => [event.action, event.subjectId])).toEqual([
      ['apiKey.rotated', old.id],
      ['apiKey.created', successor.id],
    ]);
    expect(events[0]?.details).toMatchObject({ replacedBy: successor.id, expiresAt: replaced.expiresAt!.toISOString() });
    expect(events[1]?.details).toMatchObject({ rotatedFrom: old.id });
  });

  it('rotates with no overlap: the old key is refused at once (once forgotten); a revoked key cannot be rotated', async () => {
    const { key: oldKey, apiKey: old } = await issueApiKey(db.prisma, { organizationId, access: 'write', actor: ACTOR });
    const { key: newKey } = await rotateApiKey(db.prisma, old.id, { overlapMs: 0, actor: ACTOR });
    authenticator.forgetApiKeys([old.id]);
    expect(await refusal(oldKey)).toEqual(unknownRefusal);
    expect(await refusal(newKey)).toBeUndefined();
    await expect(rotateApiKey(db.prisma, old.id, { overlapMs: 0, actor: ACTOR })).rejects.toMatchObject({
      message: expect.stringMatching(/already expired/),
    });

    const { apiKey: gone } = await issueApiKey(db.prisma, { organizationId, access: 'write', actor: ACTOR });
    await revokeApiKey(db.prisma, gone.id, ACTOR);
    const keysBefore = await db.prisma.apiKey.count();
    await expect(rotateApiKey(db.prisma, gone.id, { overlapMs: 0, actor: ACTOR })).rejects.toMatchObject({
      message: expect.stringMatching(/already revoked/),
    });
    expect(await db.prisma.apiKey.count()).toBe(keysBefore);
  });

  it('writes lastUsedAt once for a burst of requests, not once per request', async () => {
    const { key, apiKey } = await issueApiKey(db.prisma, { organizationId, access: 'write', actor: ACTOR });
    db.statements.length = 0;
    const before = Date.now();
    for (let i = 0; i < 5; i++) await authenticator.authenticate(key);
    await Promise.all(Array.from({ length: 5 }, () => authenticator.authenticate(key)));
    const writes = db.statements.filter((sql) => /^UPDATE\b.*"ApiKey"/is.test(sql));
    expect(writes).toHaveLength(1);
    const listed = only((await listApiKeys(db.prisma, organizationId)).filter((row) => row.id === apiKey.id));
    expect(listed.lastUsedAt!.getTime()).toBeGreaterThanOrEqual(before - 5);
  });

  it('two operators revoking one key at once: one revokes it, the other is told, one audit event', async () => {
    const { apiKey } = await issueApiKey(db.prisma, { organizationId, access: 'write', actor: ACTOR });
    const outcomes = await Promise.allSettled([
      revokeApiKey(db.prisma, apiKey.id, cliActor('alice')),
      revokeApiKey(db.prisma, apiKey.id, cliActor('bob')),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const failed = only(outcomes.filter((outcome) => outcome.status === 'rejected') as PromiseRejectedResult[]);
    expect(failed.reason).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/already revoked/) });
    expect(await db.prisma.auditEvent.count({ where: { subjectId: apiKey.id, action: 'apiKey.revoked' } })).toBe(1);
  });
});
