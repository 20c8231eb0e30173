// The JSON:API documents as JSON Schema: per resource its resource object, single and list
// documents, and the documents a client sends to create and update one; the list meta and
// pagination links every list shares.
import { isObjectType } from 'graphql';
import { schema } from '../../graphql/schema.js';
import { isIncludable, type ResourceDefinition, resourceOfType } from '../routes.js';
import { ref, type Schema } from './components.js';
import { described, fieldNamed, graphqlFields, inputObjectSchema, outputSchema } from './graphql-types.js';

/** The schemas of one resource: its resource object, documents and request documents. */
export function resourceSchemas(resource: ResourceDefinition): Record<string, Schema> {
  const name = resource.graphqlType;
  const fields = graphqlFields(resource);
  const includable = resource.relationships.filter(isIncludable);
  const relationship = (definition: (typeof resource.relationships)[number]) => {
    const related = { type: ['string', 'null'], description: 'A relative link to the related resource(s).' };
    const linkage = definition.include
      ? {
          data: {
            description: 'Present when the relationship is included.',
            oneOf: [
              {
                type: 'object',
                properties: { type: { const: definition.include.type }, id: { type: 'string', format: 'uuid' } },
                required: ['type', 'id'],
              },
              { type: 'null' },
            ],
          },
        }
      : {};
    return {
      type: 'object',
      properties: { links: { type: 'object', properties: { related }, required: ['related'] }, ...linkage },
      required: ['links'],
    };
  };
  const included = includable.map((definition) => ref(`${resourceOfType(definition.include.type).graphqlType}Resource`));
  const includedSchema = included.length
    ? { included: { type: 'array', description: 'The resources named by `include`, each once.', items: { oneOf: included } } }
    : {};
  const writable = (names: string[], inputType: ResourceDefinition['createInputType']) =>
    inputObjectSchema(
      Object.values(inputType.getFields()).filter((field) => names.includes(field.name)),
      (field) => resource.nullableAttributes.has(field.name),
    );

  return {
    [`${name}Attributes`]: {
      type: 'object',
      description: fieldsDescription(resource),
      properties: Object.fromEntries(
        resource.attributes.map((attribute) => {
          const field = fieldNamed(fields, attribute, resource.graphqlType);
          return [attribute, described(outputSchema(field.type), field.description)];
        }),
      ),
    },
    [`${name}Resource`]: {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        type: { const: resource.type },
        attributes: ref(`${name}Attributes`),
        relationships: {
          type: 'object',
          properties: Object.fromEntries(resource.relationships.map((definition) => [definition.name, relationship(definition)])),
        },
      },
      required: ['id', 'type'],
    },
    [`${name}Document`]: {
      type: 'object',
      properties: { data: ref(`${name}Resource`), meta: { type: 'object' }, ...includedSchema },
      required: ['data', 'meta'],
    },
    [`${name}ListDocument`]: {
      type: 'object',
      properties: {
        data: { type: 'array', items: ref(`${name}Resource`) },
        meta: ref('ListMeta'),
        links: ref('PaginationLinks'),
        ...includedSchema,
      },
      required: ['data', 'meta', 'links'],
    },
    [`${name}CreateDocument`]: {
      type: 'object',
      properties: {
        data: {
          type: 'object',
          properties: { type: { const: resource.type }, attributes: writable(resource.createAttributes, resource.createInputType) },
          required: ['type', 'attributes'],
        },
      },
      required: ['data'],
    },
    [`${name}UpdateDocument`]: {
      type: 'object',
      properties: {
        data: {
          type: 'object',
          properties: {
            type: { const: resource.type },
            id: { type: 'string', format: 'uuid', description: 'The id in the URL.' },
            attributes: writable(resource.updateAttributes, resource.updateInputType),
          },
          required: ['type', 'id'],
        },
      },
      required: ['data'],
    },
  };
}

const fieldsDescription = (resource: ResourceDefinition) => {
  const type = schema.getType(resource.graphqlType);
  return (isObjectType(type) && type.description) || undefined;
};

/** What every list document carries besides its resources. */
export function listSchemas(): Record<string, Schema> {
  return {
    ListMeta: {
      type: 'object',
      properties: {
        total: { type: 'integer', description: 'Resources matching the filters.' },
        totalUnfiltered: { type: 'integer', description: 'Resources of the organization, whatever the filters.' },
        currentSize: { type: 'integer', description: 'The page size in force.' },
        currentPage: { type: 'integer' },
        maxPage: { type: 'integer', minimum: 1 },
      },
      required: ['total', 'totalUnfiltered', 'currentSize', 'currentPage', 'maxPage'],
    },
    PaginationLinks: {
      type: 'object',
      description: 'Relative links; `prev`/`next` are left out where there is no such page.',
      properties: Object.fromEntries(['self', 'first', 'prev', 'next', 'last'].map((name) => [name, { type: 'string' }])),
      required: ['self', 'first', 'last'],
    },
  };
}
