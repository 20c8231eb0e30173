import { sqlForSchema } from '../src/database/schema-engine.ts';
console.log(await sqlForSchema('prisma/schema.prisma','postgresql://postgres@127.0.0.1:5432/test'));
