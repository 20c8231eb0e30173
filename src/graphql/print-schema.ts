// Prints the schema to schema.graphql (checked in; test/graphql/schema-file.test.ts
// fails when it is stale).
import { writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { schema } from './schema.js';

writeFileSync(new URL('../../schema.graphql', import.meta.url), `${printSchema(schema)}\n`);
console.log('wrote schema.graphql');
