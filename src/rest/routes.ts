// The JSON:API resources and how each maps onto the GraphQL schema. Attribute names and
// order, writable attributes, filters, sort fields and includable relationships are all
// read from the schema; this file only names which GraphQL fields serve which resource
// and how relationship links look in the reference documents.
import {
  type GraphQLField,
  type GraphQLInputObjectType,
  type GraphQLObjectType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import type { InputPath } from '../domain/errors.js';
import { schema } from '../graphql/schema.js';

export const BASE_PATH = '/public/v2';

export interface RelationshipDefinition {
  name: string;
  /** The related link for a resource (`null` when there is nothing to link to). */
  related: (resource: Record<string, unknown>) => string | null;
  /** To-one relationships that can be included: the GraphQL field and the related resource type. */
  include?: { field: string; type: string };
  /** The attribute holding the related id (for resource linkage). */
  idAttribute?: string;
}

interface ResourceConfig {
  type: string;
  /** Path segments served (the first one is canonical). */
  paths: [canonical: string, ...aliases: string[]];
  graphqlType: string;
  one: string;
  list: string;
  create: string;
  update: string;
  remove: string;
  createInput: string;
  updateInput: string;
  relationships: RelationshipDefinition[];
  /** What the reference calls a missing one, e.g. "FlowRun not found". */
  notFound: string;
  /**
   * Fields of the create input that travel as request headers, not as attributes
   * (input field → header name), e.g. the trigger's idempotencyKey.
   */
  createHeaders?: Record<string, string>;
  /**
   * Boolean fields of the create payload answered as response headers with the value
   * `true` when set (payload field → header name), e.g. replayed → Idempotent-Replayed.
   */
  createResponseHeaders?: Record<string, string>;
  /**
   * Actions on one resource, `POST <item path>/<segment>` (segment → mutation taking the
   * `id`), answered with the resource as the action left it, e.g. rotate-secret.
   */
  actions?: Record<string, string>;
  /**
   * Read-only lists under one resource, `GET <item path>/<segment>`: the connection field
   * of the resource's GraphQL type, served as resources of `type` (e.g. deliveries).
   */
  nestedLists?: Record<string, { field: string; type: string }>;
}

/** An action on one resource: its mutation and the payload that mutation answers with. */
export interface ActionDefinition {
  mutation: string;
  payload?: Payload;
}

/** A read-only list under a resource: its JSON:API type and attributes, read from the schema. */
export interface NestedList {
  field: string;
  type: string;
  attributes: string[];
  dateTimeAttributes: Set<string>;
}

export interface ResourceDefinition extends ResourceConfig {
  /** Attribute names in document order: createdAt, updatedAt, then the schema's order. */
  attributes: string[];
  /** Attributes whose GraphQL type is DateTime (formatted `YYYY-MM-DDTHH:MM:SS+00:00`). */
  dateTimeAttributes: Set<string>;
  createInputType: GraphQLInputObjectType;
  updateInputType: GraphQLInputObjectType;
  /** The create input's fields that a document may write as attributes (headers aside). */
  createAttributes: string[];
  /** The update input's fields that a document may write as attributes. */
  updateAttributes: string[];
  /**
   * Writable attributes a document may set to `null`. GraphQL reads a `null` input field
   * as "not given", so the input types cannot say it; JSON:API tells `null` from absent.
   */
  nullableAttributes: Set<string>;
  /**
   * When the create mutation answers with a payload rather than the resource: the payload
   * field holding the resource, and its Boolean flags (e.g. `replayed`).
   */
  createPayload?: Payload;
  /** When the update mutation answers with a payload rather than the resource. */
  updatePayload?: Payload;
  /** The payloads of the actions, by path segment (a Map: a segment is client input, and may be `__proto__`). */
  actionPayloads: Map<string, ActionDefinition>;
  /** The nested lists, by path segment (a Map, as above). */
  nestedListDefinitions: Map<string, NestedList>;
  /** `filter[...]` names: the fields of the list query's `filter` argument, if it has one. */
  filterType?: GraphQLInputObjectType;
  /** The list query's argument types as written in an operation, e.g. `[FlowRunOrder!]`. */
  listArgTypes: Record<string, string>;
  /** Sortable fields: the values of the list query's `orderBy` field enum. */
  sortFields: string[];
  /** Whether the list connection counts everything regardless of filters. */
  hasUnfilteredCount: boolean;
  /**
   * The input members an operation takes from the request outside the document's
   * attributes: the create input's headers, the list's `filter[...]` and `sort`. An
   * error about one of them names that header or query parameter.
   */
  requestParts: { create: RequestPart[]; list: RequestPart[] };
}

/** An input member (its path in the operation's arguments) and the header or query parameter carrying it. */
export type RequestPart = { path: InputPath } & ({ header: string } | { parameter: string });

/** The request part carrying the member at `path`, if the operation takes it from one. */
export const requestPartAt = (parts: RequestPart[], path: InputPath) =>
  parts.find((part) => part.path.length === path.length && part.path.every((name, i) => name === path[i]));

/**
 * A mutation's payload object: the field holding the resource, its Boolean flags (answered
 * as response headers) and its other scalar fields (answered in the document's `meta`,
 * e.g. a secret shown once).
 */
export interface Payload {
  node: string;
  flags: string[];
  meta: string[];
}

const uuidLink = (path: string, attribute: string) => (resource: Record<string, unknown>) =>
  resource[attribute] == null ? null : `${BASE_PATH}/${path}/${resource[attribute]}`;
const filteredLink = (path: string, filter: string) => (resource: Record<string, unknown>) => `${BASE_PATH}/${path}?filter[${filter}]=${resource.id}`;

const CONFIGS: ResourceConfig[] = [
  {
    type: 'flowRuns',
    paths: ['flow-runs', 'flow_runs'],
    graphqlType: 'FlowRun',
    one: 'flowRun',
    list: 'flowRuns',
    create: 'triggerFlowRun',
    update: 'patchFlowRun',
    remove: 'deleteFlowRun',
    createInput: 'TriggerFlowRunInput',
    updateInput: 'PatchFlowRunInput',
    notFound: 'FlowRun not found',
    createHeaders: { idempotencyKey: 'Idempotency-Key' },
    createResponseHeaders: { replayed: 'Idempotent-Replayed' },
    relationships: [
      {
        name: 'flow',
        related: uuidLink('flows', 'flowId'),
        include: { field: 'flow', type: 'flows' },
        idAttribute: 'flowId',
      },
      {
        name: 'messageThread',
        related: uuidLink('message-threads', 'messageThreadId'),
        include: { field: 'messageThread', type: 'messageThreads' },
        idAttribute: 'messageThreadId',
      },
    ],
  },
  {
    type: 'flows',
    paths: ['flows'],
    graphqlType: 'Flow',
    one: 'flow',
    list: 'flows',
    create: 'createFlow',
    update: 'updateFlow',
    remove: 'deleteFlow',
    createInput: 'CreateFlowInput',
    updateInput: 'UpdateFlowInput',
    notFound: 'Flow not found',
    relationships: [
      { name: 'flowGeneration', related: filteredLink('flow-generations', 'flowId') },
      { name: 'nodes', related: filteredLink('nodes', 'flowId') },
      { name: 'flowRuns', related: filteredLink('flow-runs', 'flowId') },
    ],
  },
  {
    type: 'messageThreads',
    paths: ['message-threads'],
    graphqlType: 'MessageThread',
    one: 'messageThread',
    list: 'messageThreads',
    create: 'createMessageThread',
    update: 'updateMessageThread',
    remove: 'deleteMessageThread',
    createInput: 'CreateMessageThreadInput',
    updateInput: 'UpdateMessageThreadInput',
    notFound: 'MessageThread not found',
    relationships: [
      { name: 'candidate', related: uuidLink('candidates', 'candidateId') },
      { name: 'flowRuns', related: filteredLink('flow-runs', 'messageThreadId') },
      { name: 'messages', related: filteredLink('messages', 'messageThreadId') },
      { name: 'conversation', related: filteredLink('conversations', 'messageThreadId') },
    ],
  },
  {
    type: 'webhookEndpoints',
    paths: ['webhook-endpoints'],
    graphqlType: 'WebhookEndpoint',
    one: 'webhookEndpoint',
    list: 'webhookEndpoints',
    create: 'createWebhookEndpoint',
    update: 'updateWebhookEndpoint',
    remove: 'deleteWebhookEndpoint',
    createInput: 'CreateWebhookEndpointInput',
    updateInput: 'UpdateWebhookEndpointInput',
    notFound: 'WebhookEndpoint not found',
    actions: { 'rotate-secret': 'rotateWebhookEndpointSecret' },
    nestedLists: { deliveries: { field: 'deliveries', type: 'webhookDeliveries' } },
    relationships: [],
  },
];

function objectType(name: string): GraphQLObjectType {
  const type = schema.getType(name);
  if (!isObjectType(type)) throw new Error(`GraphQL schema has no object type ${name}`);
  return type;
}

function inputType(name: string): GraphQLInputObjectType {
  const type = schema.getType(name);
  if (!isInputObjectType(type)) throw new Error(`GraphQL schema has no input type ${name}`);
  return type;
}

function rootField(operation: 'Query' | 'Mutation', name: string): GraphQLField<unknown, unknown> {
  const root = operation === 'Query' ? schema.getQueryType() : schema.getMutationType();
  const field = root?.getFields()[name];
  if (!field) throw new Error(`GraphQL schema has no ${operation}.${name}`);
  return field;
}

const LEADING = ['createdAt', 'updatedAt'];

/** The attributes of a GraphQL object type: its leaf fields but `id`, createdAt and updatedAt first. */
function attributesOf(type: GraphQLObjectType) {
  const leafFields = Object.values(type.getFields()).filter((field) => isLeafType(getNamedType(field.type)));
  const names = leafFields.map((field) => field.name).filter((name) => name !== 'id');
  const attributes = [...LEADING.filter((name) => names.includes(name)), ...names.filter((name) => !LEADING.includes(name))];
  const dateTimeAttributes = new Set(leafFields.filter((field) => getNamedType(field.type).name === 'DateTime').map((field) => field.name));
  return { attributes, dateTimeAttributes };
}

function nestedList(type: GraphQLObjectType, field: string, resourceType: string): NestedList {
  const connection = getNamedType(type.getFields()[field]?.type);
  const edge = isObjectType(connection) ? getNamedType(connection.getFields().edges?.type) : undefined;
  const node = isObjectType(edge) ? getNamedType(edge.getFields().node?.type) : undefined;
  if (!isObjectType(node)) throw new Error(`${type.name}.${field} is no connection`);
  return { field, type: resourceType, ...attributesOf(node) };
}

function define(config: ResourceConfig): ResourceDefinition {
  const type = objectType(config.graphqlType);
  const { attributes, dateTimeAttributes } = attributesOf(type);

  const list = rootField('Query', config.list);
  rootField('Query', config.one);
  for (const mutation of [config.create, config.update, config.remove]) rootField('Mutation', mutation);
  const filterArg = list.args.find((arg) => arg.name === 'filter');
  const filterType = filterArg ? getNamedType(filterArg.type) : undefined;
  const orderArg = list.args.find((arg) => arg.name === 'orderBy');
  const orderType = orderArg ? getNamedType(orderArg.type) : undefined;
  const orderFieldType = isInputObjectType(orderType) ? getNamedType(orderType.getFields().field?.type) : undefined;
  const connection = getNamedType(list.type);
  const createInputType = inputType(config.createInput);
  const updateInputType = inputType(config.updateInput);
  const headerFields = Object.keys(config.createHeaders ?? {});
  for (const field of headerFields) {
    if (!Object.hasOwn(createInputType.getFields(), field)) throw new Error(`${config.createInput} has no field ${field}`);
  }

  const createAttributes = Object.keys(createInputType.getFields()).filter((name) => !headerFields.includes(name));
  const updateAttributes = Object.keys(updateInputType.getFields());

  return {
    ...config,
    attributes,
    dateTimeAttributes,
    createInputType,
    updateInputType,
    createAttributes,
    updateAttributes,
    nullableAttributes: nullableOf([...new Set([...createAttributes, ...updateAttributes])], type, createInputType),
    createPayload: payloadOf(rootField('Mutation', config.create), config.graphqlType, config.createResponseHeaders),
    updatePayload: payloadOf(rootField('Mutation', config.update), config.graphqlType),
    nestedListDefinitions: new Map(
      Object.entries(config.nestedLists ?? {}).map(([segment, list]) => [segment, nestedList(type, list.field, list.type)]),
    ),
    actionPayloads: new Map(
      Object.entries(config.actions ?? {}).map(([segment, mutation]) => [
        segment,
        { mutation, payload: payloadOf(rootField('Mutation', mutation), config.graphqlType) },
      ]),
    ),
    filterType: isInputObjectType(filterType) ? filterType : undefined,
    listArgTypes: Object.fromEntries(list.args.map((arg) => [arg.name, String(arg.type)])),
    sortFields: isEnumType(orderFieldType) ? orderFieldType.getValues().map((value) => value.name) : [],
    hasUnfilteredCount: isObjectType(connection) && Object.hasOwn(connection.getFields(), 'totalUnfilteredCount'),
    requestParts: {
      create: Object.entries(config.createHeaders ?? {}).map(([field, header]) => ({ path: [field], header })),
      list: [
        ...Object.keys(isInputObjectType(filterType) ? filterType.getFields() : {}).map((name) => ({
          path: ['filter', name],
          parameter: `filter[${name}]`,
        })),
        ...(orderArg ? [{ path: ['orderBy'], parameter: 'sort' }] : []),
      ],
    },
  };
}

/**
 * The attributes that may be `null`: those the resource itself may show as `null` (the
 * domain can store no value there). An input field the resource does not show may be
 * `null` unless creating requires it.
 */
function nullableOf(names: string[], type: GraphQLObjectType, createInputType: GraphQLInputObjectType): Set<string> {
  const shown = type.getFields();
  const created = createInputType.getFields();
  return new Set(
    names.filter((name) => {
      const shownField = shown[name];
      if (shownField) return !isNonNullType(shownField.type);
      const createdField = created[name];
      return !(createdField && isNonNullType(createdField.type));
    }),
  );
}

/** A mutation answering with a payload object: which of its fields holds the resource. */
function payloadOf(mutation: GraphQLField<unknown, unknown>, graphqlType: string, responseHeaders: Record<string, string> = {}): Payload | undefined {
  const type = getNamedType(mutation.type);
  for (const flag of Object.keys(responseHeaders)) {
    if (!isObjectType(type) || getNamedType(type.getFields()[flag]?.type)?.name !== 'Boolean') {
      throw new Error(`${mutation.name} answers no Boolean field ${flag}`);
    }
  }
  if (type.name === graphqlType || !isObjectType(type)) return undefined;
  const fields = Object.values(type.getFields());
  const node = fields.find((field) => getNamedType(field.type).name === graphqlType);
  if (!node) throw new Error(`${type.name} has no field of type ${graphqlType}`);
  const scalars = fields.filter((field) => field !== node && isLeafType(getNamedType(field.type)));
  const isBoolean = (field: GraphQLField<unknown, unknown>) => getNamedType(field.type).name === 'Boolean';
  return {
    node: node.name,
    flags: scalars.filter(isBoolean).map((field) => field.name),
    meta: scalars.filter((field) => !isBoolean(field)).map((field) => field.name),
  };
}

export const RESOURCES: ResourceDefinition[] = CONFIGS.map(define);
export const RESOURCE_BY_TYPE = new Map(RESOURCES.map((resource) => [resource.type, resource]));

export type IncludableRelationship = RelationshipDefinition & Required<Pick<RelationshipDefinition, 'include'>>;
export const isIncludable = (relationship: RelationshipDefinition): relationship is IncludableRelationship => relationship.include !== undefined;

/** An action a route named (matchRoute only names defined ones). */
export function actionOf(resource: ResourceDefinition, name: string): ActionDefinition {
  const action = resource.actionPayloads.get(name);
  if (!action) throw new Error(`${resource.type} has no action ${name}`);
  return action;
}

/** A nested list a route named (matchRoute only names defined ones). */
export function nestedListOf(resource: ResourceDefinition, name: string): NestedList {
  const list = resource.nestedListDefinitions.get(name);
  if (!list) throw new Error(`${resource.type} has no nested list ${name}`);
  return list;
}

/** The resource of a type this file names (an include's target): an unknown one is a mistake in the definitions above. */
export function resourceOfType(type: string): ResourceDefinition {
  const resource = RESOURCE_BY_TYPE.get(type);
  if (!resource) throw new Error(`no resource has the type ${type}`);
  return resource;
}

// Checked once at start-up rather than on the first request that includes one.
for (const relationship of RESOURCES.flatMap((resource) => resource.relationships).filter(isIncludable)) resourceOfType(relationship.include.type);

export type Route =
  | { kind: 'collection'; resource: ResourceDefinition; path: string }
  | { kind: 'item'; resource: ResourceDefinition; path: string; id: string }
  | { kind: 'action'; resource: ResourceDefinition; path: string; id: string; action: string }
  | { kind: 'nested'; resource: ResourceDefinition; path: string; id: string; list: string };

export const ALLOWED_METHODS: Record<Route['kind'], string[]> = {
  collection: ['GET', 'POST'],
  item: ['GET', 'PATCH', 'DELETE'],
  action: ['POST'],
  nested: ['GET'],
};

/** The route of a path under /public/v2, or undefined. */
export function matchRoute(pathname: string): Route | undefined {
  if (!pathname.startsWith(`${BASE_PATH}/`)) return undefined;
  const segments = pathname.slice(BASE_PATH.length + 1).split('/');
  if (segments.at(-1) === '' && segments.length > 1) segments.pop();
  const [segment, encodedId, subpath, ...deeper] = segments;
  const resource = segment === undefined ? undefined : RESOURCES.find((candidate) => candidate.paths.includes(segment));
  if (!resource) return undefined;
  const path = `${BASE_PATH}/${segment}`;
  if (encodedId === undefined) return { kind: 'collection', resource, path };
  if (deeper.length || !encodedId) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(encodedId);
  } catch {
    return undefined;
  }
  if (subpath === undefined) return { kind: 'item', resource, path, id };
  if (resource.actionPayloads.has(subpath)) return { kind: 'action', resource, path, id, action: subpath };
  if (resource.nestedListDefinitions.has(subpath)) return { kind: 'nested', resource, path, id, list: subpath };
  return undefined;
}

/** The canonical path of one resource (the `Location` of a created one). */
export const resourcePath = (resource: ResourceDefinition, id: string) => `${BASE_PATH}/${resource.paths[0]}/${id}`;
