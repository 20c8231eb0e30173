// Prisma's schema engine, run from its WASM build: the native engine that `prisma migrate`
// downloads cannot be fetched on machines that only reach the npm registry. It is driven
// over an embedded PGlite database, so diffs need no PostgreSQL server. This is an
// internal Prisma API (its version is pinned in package.json): it is wrapped here and
// nowhere else, and test/database/migrations.test.ts checks that it still works.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { bindMigrationAwareSqlAdapterFactory, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import { PrismaPGlite } from 'pglite-prisma-adapter';

type SchemaEngineModule = typeof import('@prisma/schema-engine-wasm');
const GLUE = '@prisma/schema-engine-wasm/schema_engine_bg';

let loaded: Promise<SchemaEngineModule> | undefined;

function loadSchemaEngine(): Promise<SchemaEngineModule> {
  // The package entry imports the .wasm as an ES module, which Node rejects: instantiate
  // it by hand and hand its exports to the wasm-bindgen glue.
  loaded ??= (async () => {
    const glue = (await import(GLUE)) as SchemaEngineModule & { __wbg_set_wasm(exports: unknown): void };
    const wasmPath = join(dirname(fileURLToPath(import.meta.resolve(GLUE))), 'schema_engine_bg.wasm');
    const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
      './schema_engine_bg.js': glue as unknown as WebAssembly.ModuleImports,
    });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start?: () => void }).__wbindgen_start?.();
    return glue;
  })();
  return loaded;
}

// pglite-prisma-adapter's connections lack getConnectionInfo, which the schema engine
// asks for first ("failed to get connection info"); PGlite has one schema, "public".
function withConnectionInfo<T extends object>(adapter: T): T {
  const patched = adapter as T & { getConnectionInfo?: () => unknown };
  patched.getConnectionInfo ??= () => ({ schemaName: 'public', supportsRelationJoins: true });
  return patched;
}

async function openEngine(database: PGlite, schemaPath: string, schema: string): Promise<SchemaEngine> {
  const { SchemaEngine } = await loadSchemaEngine();
  const factory = new PrismaPGlite(database);
  const engineFactory: SqlMigrationAwareDriverAdapterFactory = {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => withConnectionInfo(await factory.connect()),
    connectToShadowDb: async () => withConnectionInfo(await factory.connectToShadowDb()),
  };
  return SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, () => {}, bindMigrationAwareSqlAdapterFactory(engineFactory));
}

/**
 * DDL that would bring `database` to the Prisma schema at `schemaPath`. An empty
 * script (only comments) means the two agree: no drift.
 */
export async function sqlFromDatabaseToSchema(database: PGlite, schemaPath: string): Promise<string> {
  const schema = await readFile(schemaPath, 'utf8');
  const engine = await openEngine(database, schemaPath, schema);
  const files = [{ path: schemaPath, content: schema }];
  const result = await engine.diff({
    from: { tag: 'schemaDatasource', files, configDir: dirname(schemaPath) },
    to: { tag: 'schemaDatamodel', files },
    script: true,
    exitCode: null,
    filters: { externalTables: [], externalEnums: [] },
  });
  return result.stdout ?? '';
}

/** True when a diff script holds no statement. */
export function isEmptyMigration(sql: string): boolean {
  return sql
    .split('\n')
    .map((line) => line.trim())
    .every((line) => line === '' || line.startsWith('--'));
}
