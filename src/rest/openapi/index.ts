// The OpenAPI 3.1 description of the JSON:API surface, generated from what the adapter
// itself serves: the resource definitions of routes.ts (paths, methods, relationships,
// filters, sort fields, header inputs) and the GraphQL types they are read from
// (attributes and their types, writable attributes, enums, descriptions). Nothing here
// is a hand-kept list of attributes or routes: a field added to the schema shows up.
//
// By concern: graphql-types.ts (GraphQL types as JSON Schema), documents.ts (the JSON:API
// documents of each resource), errors.ts (the error catalogue), paths.ts (the operations).
import { RESOURCES } from '../routes.js';
import type { Schema } from './components.js';
import { listSchemas, resourceSchemas } from './documents.js';
import { errorResponseComponents, errorSchemas } from './errors.js';
import { buildPaths } from './paths.js';

export { OPENAPI_PATH } from './paths.js';

export function buildOpenApiDocument(): Schema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Flow-run gateway JSON:API',
      version: 'v2',
      description:
        'JSON:API v1.1 surface of the flow-run gateway (the same rules and error codes as its GraphQL API at /graphql). ' +
        "Generated from the service's own route definitions and GraphQL types.",
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    tags: RESOURCES.map((resource) => ({ name: resource.type })),
    security: [{ apiKey: [] }],
    paths: buildPaths(),
    components: {
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'The API key as the whole header value (`Authorization: <key>`), or as `Authorization: Bearer <key>`.',
        },
      },
      schemas: Object.assign({}, listSchemas(), errorSchemas(), ...RESOURCES.map(resourceSchemas)),
      responses: errorResponseComponents(),
    },
  };
}

let cached: string | undefined;

/** The document as served (built once). */
export function openApiJson(): string {
  cached ??= JSON.stringify(buildOpenApiDocument());
  return cached;
}
