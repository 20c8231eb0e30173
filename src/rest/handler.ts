// The JSON:API surface under /public/v2: each request becomes one of the fixed GraphQL
// operations (src/rest/operations.ts), run on the GraphQL schema with the same context
// GraphQL gets, and its result becomes a JSON:API document.
import { coerceInputValue, type ExecutionResult, isScalarType } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import type { ContextFactory } from '../graphql/context-factory.js';
import { schema } from '../graphql/schema.js';
import { type ListLinks, listDocument, nestedListDocument, singleDocument } from './documents.js';
import { fromGraphQLError, fromUnknown, restError, restErrors } from './errors.js';
import { assertAcceptable } from './media-type.js';
import { OPENAPI_PATH, openApiJson } from './openapi/index.js';
import { type AroundOperation, type OperationKind, runOperation } from './operations.js';
import { parseQueryParams, type QueryParams } from './query-params.js';
import { inputFromDocument, readJsonBody } from './request-body.js';
import { documentResponse, errorResponse } from './responses.js';
import {
  ALLOWED_METHODS,
  actionOf,
  matchRoute,
  nestedListOf,
  type Payload,
  type RequestPart,
  type ResourceDefinition,
  resourcePath,
  type Route,
} from './routes.js';

type Node = Record<string, unknown>;

/**
 * Answers one request under /public/v2 (src/http/app.ts routes them here), with the
 * context factory GraphQL uses, so both surfaces act with the same tenant and services.
 */
export async function handleRestRequest(request: Request, contextFor: ContextFactory, around?: AroundOperation): Promise<Response> {
  try {
    return await handle(request, contextFor, around);
  } catch (error) {
    return errorResponse(fromUnknown(error));
  }
}

async function handle(request: Request, contextFor: ContextFactory, around: AroundOperation | undefined): Promise<Response> {
  const url = new URL(request.url);
  // The OpenAPI description is public: served before any authentication.
  if (url.pathname === OPENAPI_PATH) {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw restError(405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed here; use GET`, undefined, { Allow: 'GET, HEAD' });
    }
    return new Response(request.method === 'HEAD' ? null : openApiJson(), { status: 200, headers: { 'Content-Type': 'application/json' } });
  }
  const route = matchRoute(url.pathname);
  if (!route) throw restError(404, 'ROUTE_NOT_FOUND', `no resource at ${url.pathname}`);
  const allowed = ALLOWED_METHODS[route.kind];
  if (!allowed.includes(request.method)) {
    throw restError(405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed here; use ${allowed.join(', ')}`, undefined, {
      Allow: allowed.join(', '),
    });
  }
  assertAcceptable(request.headers);
  const context = await contextFor(request.headers);
  const { resource } = route;

  if (route.kind === 'collection' && request.method === 'GET') {
    return list(route, url, context, around);
  }
  if (route.kind === 'collection') {
    return create(route, request, url, context, around);
  }

  if (route.kind === 'action') {
    return act(route, url, context, around);
  }
  if (route.kind === 'nested') {
    return nestedList(route, url, context);
  }

  const id = route.id;
  const kind: OperationKind = request.method === 'GET' ? 'one' : request.method === 'PATCH' ? 'update' : 'remove';
  const params = parseQueryParams(url.searchParams, resource, kind === 'remove' ? 'delete' : 'single');
  const input =
    kind === 'update'
      ? inputFromDocument(await readJsonBody(request), {
          type: resource.type,
          inputType: resource.updateInputType,
          attributes: resource.updateAttributes,
          nullable: resource.nullableAttributes,
          id,
        })
      : undefined;
  // An id that is no UUID names nothing: the same 404 as a missing resource.
  if (!isUuid(id)) throw notFound(resource);

  const result = await runOperation(resource, kind, params.include, { id, ...(input && { input }) }, context, around);
  if (kind === 'remove') {
    resultOf(result);
    return new Response(null, { status: 204 });
  }
  const answer = resultOf(result, kind === 'one' ? resource : undefined);
  const payload = kind === 'update' ? resource.updatePayload : undefined;
  const node = payload ? (answer[payload.node] as Node) : answer;
  return documentResponse(200, singleDocument(resource, node, params, metaOf(answer, payload)));
}

/** `POST <item>/<action>`: the action's mutation on the item; 200 with the resource as it left it. */
async function act(
  route: Extract<Route, { kind: 'action' }>,
  url: URL,
  context: GraphQLContext,
  around: AroundOperation | undefined,
): Promise<Response> {
  const { resource, id, action } = route;
  const params = parseQueryParams(url.searchParams, resource, 'single');
  if (!isUuid(id)) throw notFound(resource);
  const payload = actionOf(resource, action).payload;
  const answer = resultOf(await runOperation(resource, `action:${action}`, params.include, { id }, context, around));
  const node = payload ? (answer[payload.node] as Node) : answer;
  return documentResponse(200, singleDocument(resource, node, params, metaOf(answer, payload)));
}

/** `GET <item>/<list>`: a page of a read-only list under the item; 404 when the item does not exist. */
async function nestedList(route: Extract<Route, { kind: 'nested' }>, url: URL, context: GraphQLContext): Promise<Response> {
  const { resource, id } = route;
  const list = nestedListOf(resource, route.list);
  for (const [name] of url.searchParams) {
    if (!/^page\[(number|size)\]$/.test(name)) {
      throw restError(400, 'INVALID_QUERY_PARAMETER', `unknown query parameter "${name}"; ${route.list} take page[number] and page[size]`, {
        parameter: name,
      });
    }
  }
  const params = parseQueryParams(url.searchParams, resource, 'list');
  if (!isUuid(id)) throw notFound(resource);
  const { number, size } = params.page;
  const owner = resultOf(
    await runOperation(resource, `nested:${route.list}`, [], { id, first: size, offset: (number - 1) * size }, context),
    resource,
  );
  const connection = owner[list.field] as { totalCount: number; edges: { node: Node }[] };
  const total = Number(connection.totalCount);
  const maxPage = Math.max(1, Math.ceil(total / size));
  const meta = { total, totalUnfiltered: total, currentSize: size, currentPage: number, maxPage };
  const nodes = connection.edges.map((edge) => edge.node);
  return documentResponse(200, nestedListDocument(list, nodes, meta, pageLinks(url.pathname, params, maxPage)));
}

/** The payload's fields that are neither the resource nor a flag, for the document's meta. */
function metaOf(answer: Node, payload: Payload | undefined): Record<string, unknown> {
  return Object.fromEntries((payload?.meta ?? []).map((name) => [name, answer[name]]));
}

/**
 * POST: the document's attributes plus the input fields that travel as headers (the
 * trigger's Idempotency-Key). A replayed trigger answers as the first one did (201, same
 * run, same Location) with `Idempotent-Replayed: true`.
 */
async function create(route: Route, request: Request, url: URL, context: GraphQLContext, around: AroundOperation | undefined): Promise<Response> {
  const { resource } = route;
  const params = parseQueryParams(url.searchParams, resource, 'single');
  const attributes = inputFromDocument(await readJsonBody(request), {
    type: resource.type,
    inputType: resource.createInputType,
    attributes: resource.createAttributes,
    nullable: resource.nullableAttributes,
  });
  const fromHeaders: Record<string, string> = {};
  for (const [field, header] of Object.entries(resource.createHeaders ?? {})) {
    const value = request.headers.get(header);
    if (value !== null) fromHeaders[field] = value;
  }
  const variables = { input: { ...attributes, ...fromHeaders } };
  const payload = resultOf(
    await runOperation(resource, 'create', params.include, variables, context, around),
    undefined,
    resource.requestParts.create,
  );
  const node = resource.createPayload ? (payload[resource.createPayload.node] as Node) : payload;
  const headers: Record<string, string> = { Location: resourcePath(resource, String(node.id)) };
  for (const [flag, header] of Object.entries(resource.createResponseHeaders ?? {})) {
    if (payload[flag] === true) headers[header] = 'true';
  }
  return documentResponse(201, singleDocument(resource, node, params, metaOf(payload, resource.createPayload)), headers);
}

async function list(route: Route, url: URL, context: GraphQLContext, around: AroundOperation | undefined): Promise<Response> {
  const { resource } = route;
  const params = parseQueryParams(url.searchParams, resource, 'list');
  const { number, size } = params.page;
  const variables = {
    ...(params.filter && { filter: params.filter }),
    ...(params.orderBy && { orderBy: params.orderBy }),
    first: size,
    offset: (number - 1) * size,
  };
  const connection = resultOf(
    await runOperation(resource, 'list', params.include, variables, context, around),
    undefined,
    resource.requestParts.list,
  );
  const total = Number(connection.totalCount);
  const maxPage = Math.max(1, Math.ceil(total / size));
  const nodes = (connection.edges as { node: Node }[]).map((edge) => edge.node);
  const meta = {
    total,
    totalUnfiltered: Number(connection.totalUnfilteredCount ?? total),
    currentSize: size,
    currentPage: number,
    maxPage,
  };
  return documentResponse(200, listDocument(resource, nodes, params, meta, pageLinks(url.pathname, params, maxPage)));
}

function pageLinks(pathname: string, params: QueryParams, maxPage: number): ListLinks {
  const { number, size } = params.page;
  const kept = params.given
    .filter(([name]) => !name.startsWith('page['))
    .map(([name, value]) => `${name}=${encodeURIComponent(value).replace(/%2C/gi, ',')}`);
  const link = (page: number) => `${pathname}?${[...kept, `page[number]=${page}`, `page[size]=${size}`].join('&')}`;
  return {
    self: link(number),
    first: link(1),
    // An unavailable prev/next is omitted rather than null (both are JSON:API).
    ...(number > 1 && { prev: link(Math.min(number - 1, maxPage)) }),
    ...(number < maxPage && { next: link(number + 1) }),
    last: link(maxPage),
  };
}

/**
 * The `result` of an operation; GraphQL errors become error objects, naming the request
 * part that carried the member when one of `parts` did (null → 404 when `missing`).
 */
function resultOf(result: ExecutionResult, missing?: ResourceDefinition, parts: RequestPart[] = []): Node {
  if (result.errors?.length) throw restErrors(result.errors.map((error) => fromGraphQLError(error, parts)));
  const value = (result.data as { result?: Node | null } | null | undefined)?.result;
  if (value == null) {
    if (missing) throw notFound(missing);
    throw restErrors([fromGraphQLError(new Error('operation returned no result'))]);
  }
  return value;
}

const notFound = (resource: ResourceDefinition) => restError(404, 'NOT_FOUND', resource.notFound);

function isUuid(value: string): boolean {
  const uuid = schema.getType('UUID');
  if (!isScalarType(uuid)) return true;
  let valid = true;
  coerceInputValue(value, uuid, () => {
    valid = false;
  });
  return valid;
}
