// Test databases: every test file gets a fresh one, on the embedded database always and
// on PostgreSQL too when TEST_DATABASE_URL is set (a new database per file, dropped after).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../../src/database/client.ts';
import { createApiKey, createAuthenticator, createOrganization } from '../../src/domain/organizations.ts';
import type { Access, Tenant } from '../../src/domain/tenant.ts';

export type TargetName = 'embedded' | 'postgresql';
export interface Target {
  name: TargetName;
  serverUrl?: string;
}

export function databaseTargets(): Target[] {
  const targets: Target[] = [{ name: 'embedded' }];
  if (process.env.TEST_DATABASE_URL) targets.push({ name: 'postgresql', serverUrl: process.env.TEST_DATABASE_URL });
  return targets;
}

export interface TestDatabase extends Database {
  /** Every SQL statement Prisma sent, in order; clear it with `statements.length = 0`. */
  statements: string[];
  /** Connection string of the fresh PostgreSQL database (undefined when embedded). */
  url?: string;
}

export async function openTestDatabase(target: Target, options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const statements: string[] = [];
  const onQuery = (sql: string) => statements.push(sql);
  if (target.name === 'embedded') {
    const db = await openDatabase({ onQuery });
    return Object.assign(db, { statements });
  }
  const scratch = await createScratchDatabase(target.serverUrl!);
  const db = await openDatabase({ databaseUrl: scratch.url, onQuery, poolSize: options.poolSize });
  // Object.assign replaces db.close below: keep the original to call from the new one.
  const closeDatabase = db.close.bind(db);
  return Object.assign(db, {
    statements,
    url: scratch.url,
    async close() {
      await closeDatabase();
      await scratch.drop();
    },
  });
}

/** A new, empty database on the PostgreSQL server (not even migrated), and its removal. */
export async function createScratchDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `test_${randomUUID().replace(/-/g, '')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

export interface TestTenant {
  organizationId: string;
  key: string;
  tenant: Tenant;
}

/** A new organization with one API key of the given access. */
export async function createTestTenant(db: Database, access: Access = 'write', name = 'Test org'): Promise<TestTenant> {
  const organization = await createOrganization(db.prisma, name);
  const key = await createApiKey(db.prisma, organization.id, access);
  return { organizationId: organization.id, key, tenant: await createAuthenticator(db).authenticate(key) };
}

/** An extra key for an existing organization. */
export async function createKey(db: Database, organizationId: string, access: Access): Promise<string> {
  return createApiKey(db.prisma, organizationId, access);
}
