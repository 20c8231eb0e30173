// Prisma's schema engine, run from its WASM build: the native engine that `prisma migrate`
// downloads cannot be fetched on machines that only reach the npm registry. This is an
// internal Prisma API (pinned in package.json), so it is wrapped here and nowhere else.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';

type SchemaEngineModule = typeof import('@prisma/schema-engine-wasm');
type SchemaEngine = import('@prisma/schema-engine-wasm').SchemaEngine;
const GLUE = '@prisma/schema-engine-wasm/schema_engine_bg';

let loaded: Promise<SchemaEngineModule> | undefined;

function loadSchemaEngine(): Promise<SchemaEngineModule> {
  // The package entry imports the .wasm as an ES module, which Node rejects: instantiate
  // the module by hand and hand its exports to the wasm-bindgen glue.
  loaded ??= (async () => {
    const glue = (await import(GLUE)) as SchemaEngineModule;
    const wasmPath = join(dirname(fileURLToPath(import.meta.resolve(GLUE))), 'schema_engine_bg.wasm');
    const bytes = await readFile(wasmPath);
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': glue as never });
    const exports = instance.exports as Record<string, unknown> & { __wbindgen_start?: () => void };
    (glue as unknown as { __wbg_set_wasm(e: unknown): void }).__wbg_set_wasm(exports);
    exports.__wbindgen_start?.();
    return glue;
  })();
  return loaded;
}

async function openEngine(schemaPath: string, schema: string, connectionString: string): Promise<SchemaEngine> {
  const { SchemaEngine } = await loadSchemaEngine();
  // The engine connects to PostgreSQL even for a diff from an empty schema.
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg({ connectionString }));
  return SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, () => {}, adapter);
}

/** DDL that turns an empty database into the given Prisma schema. */
export async function sqlForSchema(schemaPath: string, connectionString: string): Promise<string> {
  const schema = await readFile(schemaPath, 'utf8');
  const engine = await openEngine(schemaPath, schema, connectionString);
  const result = await engine.diff({
    from: { tag: 'empty' },
    to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
    script: true,
    exitCode: null,
    filters: { externalTables: [], externalEnums: [] },
  });
  return result.stdout ?? '';
}

/**
 * DDL that would bring the live database at `connectionString` to the Prisma schema;
 * an empty script means the database and schema.prisma agree (no drift).
 */
export async function sqlFromDatabaseToSchema(schemaPath: string, connectionString: string): Promise<string> {
  const schema = await readFile(schemaPath, 'utf8');
  const engine = await openEngine(schemaPath, schema, connectionString);
  const result = await engine.diff({
    from: { tag: 'url', url: connectionString },
    to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
    script: true,
    exitCode: null,
    filters: { externalTables: [], externalEnums: [] },
  });
  return result.stdout ?? '';
}
