// Organization names follow the rule API key names follow (one rule, src/domain/names.ts):
// trimmed, not empty, bounded, and without control characters, which the CLI would print
// raw into an operator's terminal (an ESC starts an escape sequence).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../src/domain/api-keys.ts';
import { cliActor } from '../../src/domain/audit-log.ts';
import { createOrganization } from '../../src/domain/organizations.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectDomainError } from '../support/fixtures.ts';

// C0 (ESC, BEL, TAB, LF, CR, NUL), DEL and C1 (NEL, CSI): every one is a control character.
const CONTROL_NAMES = [
  'Acme\u001b[2J',
  'Acme\u0007',
  'Ac\tme',
  'Acme\nCorp',
  'Acme\rCorp',
  'Ac\u0000me',
  'Acme\u007f',
  'Acme\u0085',
  'Acme\u009b31m',
];

describe.each(databaseTargets())('organization names on $name', (target) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase(target);
  });
  afterAll(() => db?.close());

  it.each(CONTROL_NAMES.map((name) => [JSON.stringify(name), name]))('refuses %s, as a key name is refused, and writes nothing', async (_, name) => {
    await expect(createOrganization(db.prisma, name)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      path: ['name'],
      message: expect.stringMatching(/control characters/),
    });
    expect(await db.prisma.organization.count({ where: { name: { startsWith: 'Ac' } } })).toBe(0);

    const owner = await createOrganization(db.prisma, 'Key owner');
    const keyRefusal = await issueApiKey(db.prisma, { organizationId: owner.id, access: 'read', name, actor: cliActor('ops') }).catch(
      (error) => error,
    );
    const orgRefusal = await createOrganization(db.prisma, name).catch((error) => error);
    expect({ code: orgRefusal.code, path: orgRefusal.path }).toEqual({ code: keyRefusal.code, path: keyRefusal.path });
    await db.prisma.organization.delete({ where: { id: owner.id } }).catch(() => undefined);
  });

  it('keeps printable names of any script, trimmed, up to 200 characters', async () => {
    for (const name of ['  Acme GmbH  ', 'Société Générale', '株式会社アクメ', 'Acme 🚀', 'A'.repeat(200)]) {
      const organization = await createOrganization(db.prisma, name);
      expect(organization.name).toBe(name.trim());
    }
    await expectDomainError(createOrganization(db.prisma, 'A'.repeat(201)), 'VALIDATION_FAILED', ['name']);
    await expectDomainError(createOrganization(db.prisma, '   '), 'VALIDATION_FAILED', ['name']);
  });
});
