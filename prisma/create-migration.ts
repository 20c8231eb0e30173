// Writes prisma/migrations/<timestamp>_<name>/migration.sql: the DDL that takes a
// database with every existing migration applied to what prisma/schema.prisma says.
// Works offline, on a throw-away embedded database.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrations, MIGRATIONS_DIR } from '../src/database/migrations.ts';
import { isEmptyMigration, sqlFromDatabaseToSchema } from './schema-engine.ts';

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: npm run migration:create -- <snake_case_name>');
  process.exit(2);
}
const scratch = new PGlite();
await applyMigrations({
  exec: async (sql) => void (await scratch.exec(sql)),
  query: async (sql, params) => (await scratch.query<never>(sql, params)).rows,
});
const ddl = await sqlFromDatabaseToSchema(scratch, 'prisma/schema.prisma');
await scratch.close();
if (isEmptyMigration(ddl)) {
  console.log('schema.prisma and the migrations agree: nothing to write.');
} else {
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const dir = join(MIGRATIONS_DIR, `${stamp}_${name}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'migration.sql'), ddl.replace(/^-- CreateSchema\nCREATE SCHEMA IF NOT EXISTS "public";\n\n/m, ''));
  console.log(`wrote ${dir}/migration.sql`);
}
