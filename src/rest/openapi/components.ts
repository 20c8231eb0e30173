// How the parts of the OpenAPI document refer to each other: a schema is plain JSON, a
// named one lives under components and is referred to by `ref`, and a JSON:API body is
// `jsonApi(schema)` content.
import { JSON_API } from '../media-type.js';

export type Schema = Record<string, unknown>;

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export const jsonApi = (schema: Schema) => ({ content: { [JSON_API]: { schema } } });

/** The operations described for a resource (its actions are not, yet). */
export type OperationKind = 'list' | 'one' | 'create' | 'update' | 'remove';
