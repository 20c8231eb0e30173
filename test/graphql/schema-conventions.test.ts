// The shapes every part of the schema follows (docs/GRAPHQL.md "How the schema is shaped"), checked
// on the built schema so that a new type or mutation that strays fails here.
import {
  getNamedType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  type GraphQLField,
  type GraphQLObjectType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema.ts';
import { defined } from '../support/items.ts';

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);
const mutations = Object.values(schema.getMutationType()!.getFields());
const objectTypes = Object.values(schema.getTypeMap())
  .filter(isObjectType)
  .filter((type) => !type.name.startsWith('__'));

describe('schema conventions', () => {
  it.each(mutations.map((field) => [field.name, field]))(
    '%s answers a nullable <Mutation>Payload with nullable fields and a typed errors list',
    (name, field: GraphQLField<unknown, unknown>) => {
      // Nullable: a raised error nulls this field only, not the whole response.
      expect(isNonNullType(field.type)).toBe(false);
      const payload = getNamedType(field.type) as GraphQLObjectType;
      expect(payload.name).toBe(`${pascal(name)}Payload`);
      const { errors, ...others } = payload.getFields();
      expect(String(errors?.type)).toBe(`[${pascal(name)}Error!]!`);
      const union = getNamedType(defined(errors, `${name}'s errors field`).type);
      expect(isUnionType(union) && union.getTypes().length).toBeGreaterThan(0);
      for (const member of isUnionType(union) ? union.getTypes() : []) {
        expect(member.getInterfaces().map((face) => face.name)).toContain('MutationError');
        expect(member.name).toMatch(/Error$/);
      }
      // Null when the mutation failed with an error answered in `errors`.
      for (const other of Object.values(others)) expect(isNonNullType(other.type), other.name).toBe(false);
      // What a mutation writes is one `input:`; an update or delete names its target with `id:`.
      for (const arg of field.args) expect(['input', 'id']).toContain(arg.name);
    },
  );

  it('has one connection type per node type, named after it', () => {
    const connections = objectTypes.filter((type) => 'edges' in type.getFields() && 'pageInfo' in type.getFields());
    const nodeTypes = connections.map((connection) => {
      const edge = getNamedType(defined(connection.getFields().edges, 'edges').type) as GraphQLObjectType;
      const node = getNamedType(defined(edge.getFields().node, `${edge.name}.node`).type);
      expect(connection.name).toBe(`${node.name}Connection`);
      expect(edge.name).toBe(`${node.name}Edge`);
      expect(connection.getFields().totalCount?.type.toString()).toBe('Int!');
      return node.name;
    });
    expect(nodeTypes.sort()).toEqual([...new Set(nodeTypes)].sort());
    expect(nodeTypes).toEqual(expect.arrayContaining(['FlowRun', 'Flow', 'MessageThread']));
    // Every list field of the schema answers one of them.
    for (const type of objectTypes) {
      for (const field of Object.values(type.getFields())) {
        const named = getNamedType(field.type);
        if (isObjectType(named) && 'edges' in named.getFields()) expect(connections).toContain(named);
      }
    }
  });

  it('describes every error type a payload can hold as a MutationError with the stable code', () => {
    const face = schema.getType('MutationError');
    expect(isInterfaceType(face)).toBe(true);
    const fields = isInterfaceType(face) ? face.getFields() : {};
    expect(String(fields.code?.type)).toBe('ErrorCode!');
    expect(String(fields.message?.type)).toBe('String!');
    expect(isListType(fields.field?.type)).toBe(false);
  });
});
