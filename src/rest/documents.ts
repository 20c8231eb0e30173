// GraphQL results as JSON:API documents, shaped like the reference examples: attributes
// in definition order, relationship links always, linkage data only when included,
// `"meta": {}` on single-resource documents, timestamps as `YYYY-MM-DDTHH:MM:SS+00:00`.
import { type NestedList, type ResourceDefinition, resourceOfType } from './routes.js';

type Node = Record<string, unknown>;

export interface ResourceObject {
  id: string;
  type: string;
  attributes?: Record<string, unknown>;
  relationships?: Record<string, { links: { related: string | null }; data?: { type: string; id: string } | null }>;
}

export interface Rendering {
  include: string[];
  fields: Map<string, Set<string>>;
}

/** `2024-08-20T10:45:05.123Z` → `2024-08-20T10:45:05+00:00` (UTC, whole seconds). */
export function formatTimestamp(value: unknown): unknown {
  if (value == null) return value;
  // The DateTime scalar hands the Date itself over: printed once, cut, not copied first.
  const date = value instanceof Date ? value : new Date(value as string);
  if (Number.isNaN(date.getTime())) return value;
  const iso = date.toISOString();
  return iso.length === 24 ? `${iso.slice(0, 19)}+00:00` : iso.replace(/\.\d{3}Z$/, '+00:00');
}

function resourceObject(resource: ResourceDefinition, node: Node, rendering: Rendering, included?: Included): ResourceObject {
  const sparse = rendering.fields.get(resource.type);
  const wanted = (name: string) => !sparse || sparse.has(name);

  const attributes: Record<string, unknown> = {};
  for (const name of resource.attributes) {
    if (!wanted(name)) continue;
    attributes[name] = resource.dateTimeAttributes.has(name) ? formatTimestamp(node[name]) : node[name];
  }

  const relationships: NonNullable<ResourceObject['relationships']> = {};
  for (const relationship of resource.relationships) {
    const object: NonNullable<ResourceObject['relationships']>[string] = {
      links: { related: relationship.related(node) },
    };
    const include = relationship.include;
    if (include && included && rendering.include.includes(relationship.name)) {
      const related = node[include.field] as Node | null | undefined;
      object.data = related ? { type: include.type, id: String(related.id) } : null;
      // Included even when a sparse fieldset leaves the relationship out (JSON:API allows
      // the missing linkage then).
      if (related && !included.has(include.type, related.id)) included.add(resourceObject(resourceOfType(include.type), related, rendering));
    }
    if (wanted(relationship.name)) relationships[relationship.name] = object;
  }

  return {
    id: String(node.id),
    type: resource.type,
    ...(Object.keys(attributes).length && { attributes }),
    ...(Object.keys(relationships).length && { relationships }),
  };
}

/** Included resources, each once, in the order first met. */
class Included {
  private readonly byKey = new Map<string, ResourceObject>();
  has(type: string, id: unknown) {
    return this.byKey.has(`${type}:${String(id)}`);
  }
  add(object: ResourceObject) {
    const key = `${object.type}:${object.id}`;
    if (!this.byKey.has(key)) this.byKey.set(key, object);
  }
  get list() {
    return [...this.byKey.values()];
  }
}

export function singleDocument(resource: ResourceDefinition, node: Node, rendering: Rendering, meta: Record<string, unknown> = {}) {
  const included = new Included();
  const data = resourceObject(resource, node, rendering, included);
  return {
    data,
    meta,
    ...(rendering.include.length && { included: included.list }),
  };
}

export interface ListMeta {
  total: number;
  totalUnfiltered: number;
  currentSize: number;
  currentPage: number;
  maxPage: number;
}

export interface ListLinks {
  self: string;
  first: string;
  prev?: string;
  next?: string;
  last: string;
}

export function listDocument(resource: ResourceDefinition, nodes: Node[], rendering: Rendering, meta: ListMeta, links: ListLinks) {
  const included = new Included();
  const data = nodes.map((node) => resourceObject(resource, node, rendering, included));
  return {
    data,
    meta,
    links,
    ...(rendering.include.length && { included: included.list }),
  };
}

/** A page of a read-only list under a resource (e.g. an endpoint's deliveries). */
export function nestedListDocument(list: NestedList, nodes: Node[], meta: ListMeta, links: ListLinks) {
  const data = nodes.map((node) => ({
    id: String(node.id),
    type: list.type,
    attributes: Object.fromEntries(
      list.attributes.map((name) => [name, list.dateTimeAttributes.has(name) ? formatTimestamp(node[name]) : node[name]]),
    ),
  }));
  return { data, meta, links };
}
