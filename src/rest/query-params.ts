// The JSON:API query parameters of a request: include, fields[TYPE], filter[NAME], sort
// and page[number]/page[size]. What is allowed comes from the resource definitions (and
// so from the GraphQL schema); anything else is a 400 naming the parameter.
import { getNullableType, type GraphQLNullableType, isListType, isScalarType } from 'graphql';
import { MAX_OFFSET } from '../graphql/types/lists.js';
import { type ErrorObject, errorObject, RestError } from './errors.js';
import { valueProblems } from './input-values.js';
import { RESOURCE_BY_TYPE, type ResourceDefinition } from './routes.js';

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;

export type Operation = 'list' | 'single' | 'delete';

export interface QueryParams {
  /** Names of the included relationships. */
  include: string[];
  /** Sparse fieldsets by resource type. */
  fields: Map<string, Set<string>>;
  /** Variables of the list query's `filter` argument (raw; GraphQL coerces them). */
  filter?: Record<string, unknown>;
  orderBy?: { field: string; direction: 'ASC' | 'DESC' }[];
  page: { number: number; size: number };
  /** The parameters as given, in order, to rebuild pagination links. */
  given: [string, string][];
}

const ALLOWED: Record<Operation, RegExp[]> = {
  list: [/^include$/, /^fields\[[^\]]+\]$/, /^filter\[[^\]]+\]$/, /^sort$/, /^page\[(number|size)\]$/],
  single: [/^include$/, /^fields\[[^\]]+\]$/],
  delete: [],
};

export function parseQueryParams(search: URLSearchParams, resource: ResourceDefinition, operation: Operation): QueryParams {
  const errors: ErrorObject[] = [];
  const invalid = (parameter: string, detail: string) => errors.push(errorObject(400, 'INVALID_QUERY_PARAMETER', detail, { parameter }));

  const given = [...search.entries()];
  const seen = new Set<string>();
  for (const [name] of given) {
    if (!ALLOWED[operation].some((pattern) => pattern.test(name))) {
      invalid(name, `unknown query parameter "${name}"`);
    } else if (seen.has(name)) {
      invalid(name, `query parameter "${name}" is given more than once`);
    }
    seen.add(name);
  }
  if (errors.length) throw new RestError(400, errors);

  const params: QueryParams = {
    include: parseInclude(search.get('include'), resource, invalid),
    fields: new Map(),
    page: { number: 1, size: DEFAULT_PAGE_SIZE },
    given,
  };

  for (const [name, value] of given) {
    const fieldsType = /^fields\[([^\]]+)\]$/.exec(name)?.[1];
    if (fieldsType) {
      const target = RESOURCE_BY_TYPE.get(fieldsType);
      if (!target) {
        invalid(name, `unknown resource type "${fieldsType}"`);
        continue;
      }
      const known = new Set([...target.attributes, ...target.relationships.map((r) => r.name)]);
      const names = value === '' ? [] : value.split(',');
      const unknown = names.filter((field) => !known.has(field));
      if (unknown.length) invalid(name, `unknown field(s) of ${fieldsType}: ${unknown.join(', ')}`);
      else params.fields.set(fieldsType, new Set(names));
    }
  }

  if (operation === 'list') {
    params.filter = parseFilter(given, resource, invalid);
    params.orderBy = parseSort(search.get('sort'), resource, invalid);
    const size = parsePositive(search.get('page[size]'), 'page[size]', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, invalid);
    // The page becomes the list query's offset, (number − 1) × size, which has a bound.
    const lastPage = Math.floor(MAX_OFFSET / size) + 1;
    const number = parsePositive(search.get('page[number]'), 'page[number]', 1, lastPage, invalid, ` with page[size] ${size}`);
    params.page = { number, size };
  }
  if (errors.length) throw new RestError(400, errors);
  return params;
}

type Invalid = (parameter: string, detail: string) => void;

function parseInclude(value: string | null, resource: ResourceDefinition, invalid: Invalid): string[] {
  if (value === null || value === '') return [];
  const includable = new Set(resource.relationships.filter((r) => r.include).map((r) => r.name));
  const paths = [...new Set(value.split(','))];
  const unknown = paths.filter((path) => !includable.has(path));
  if (unknown.length) {
    invalid('include', `unknown include path(s) for ${resource.type}: ${unknown.join(', ')}`);
    return [];
  }
  return paths;
}

function parseFilter(given: [string, string][], resource: ResourceDefinition, invalid: Invalid) {
  const filters = given.filter(([name]) => name.startsWith('filter['));
  if (!filters.length) return undefined;
  // A Map: the name is the client's, and may be `constructor` or `__proto__`.
  const fields = new Map(Object.entries(resource.filterType?.getFields() ?? {}));
  const filter: Record<string, unknown> = {};
  for (const [name, value] of filters) {
    const field = fields.get(name.slice('filter['.length, -1));
    if (!field) {
      invalid(name, `unknown filter "${name}" for ${resource.type}`);
      continue;
    }
    // A list-valued filter takes comma-separated values (filter[status]=running,queued).
    const type = getNullableType(field.type);
    filter[field.name] = isListType(type) ? value.split(',') : isDateTime(type) ? offsetSignRestored(value) : value;
  }
  if (resource.filterType) {
    for (const { path, detail } of valueProblems(filter, resource.filterType)) {
      const parameter = path.length ? `filter[${path[0]}]` : 'filter';
      invalid(parameter, `${parameter}: ${detail}`);
    }
  }
  return filter;
}

const isDateTime = (type: GraphQLNullableType) => isScalarType(type) && type.name === 'DateTime';

/**
 * A "+" in a query string is read as a space, so a timestamp copied as this API renders it
 * (2024-08-20T10:45:05+00:00) into a URL without encoding arrives as "…05 00:00": the
 * space before the offset can only have been that "+".
 */
const offsetSignRestored = (value: string) => value.replace(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?) (\d\d:\d\d)$/, '$1+$2');

function parseSort(value: string | null, resource: ResourceDefinition, invalid: Invalid) {
  if (value === null) return undefined;
  const orderBy: { field: string; direction: 'ASC' | 'DESC' }[] = [];
  for (const key of value.split(',')) {
    const descending = key.startsWith('-');
    const field = descending ? key.slice(1) : key;
    if (!resource.sortFields.includes(field)) {
      invalid('sort', `cannot sort ${resource.type} by "${key}"; sortable: ${resource.sortFields.join(', ')}`);
      return undefined;
    }
    orderBy.push({ field, direction: descending ? 'DESC' : 'ASC' });
  }
  return orderBy;
}

function parsePositive(value: string | null, parameter: string, fallback: number, max: number, invalid: Invalid, context = ''): number {
  if (value === null) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    invalid(parameter, `${parameter} must be a positive integer`);
    return fallback;
  }
  const number = Number(value);
  if (number > max) {
    invalid(parameter, `${parameter} must be at most ${max}${context}`);
    return fallback;
  }
  return number;
}
