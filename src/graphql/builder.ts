// The one Pothos builder: Prisma-backed object types (their relations are planned into
// the parent query or batched), Relay connections, and graphql-scalars' scalars.
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import { JSONObjectResolver, JSONResolver, UUIDResolver } from 'graphql-scalars';
import type PrismaTypes from '../database/generated/pothos-types.js';
import { getDatamodel } from '../database/generated/pothos-types.js';
import type { PrismaClient } from '../database/generated/prisma/client.js';
import type { GraphQLContext } from './context.js';
import { DateTime } from './date-time.js';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    UUID: { Input: string; Output: string };
    JSONObject: { Input: Record<string, unknown>; Output: unknown };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  defaultFieldNullability: false,
  plugins: [PrismaPlugin, RelayPlugin],
  prisma: {
    // Each request reads through its organization's scoped client, so nested and
    // batched loads are tenant-confined too.
    client: (ctx) => ctx.tenant.db as unknown as PrismaClient,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.addScalarType('DateTime', DateTime);
builder.addScalarType('UUID', UUIDResolver);
builder.addScalarType('JSONObject', JSONObjectResolver);
builder.addScalarType('JSON', JSONResolver);

builder.queryType({});
builder.mutationType({});
