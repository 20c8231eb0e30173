// Sends GraphQL operations through the app's fetch handler, as a client would over HTTP.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { App } from '../../src/http/app.ts';

export interface GraphQLResponse<Data> {
  status: number;
  data?: Data | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; field?: string } }[];
}

export async function sendGraphQL<Data, Variables>(
  app: App,
  key: string | undefined,
  document: TypedDocumentNode<Data, Variables> | string,
  variables?: Variables,
): Promise<GraphQLResponse<Data>> {
  const response = await app.fetch(
    new Request('http://test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key && { authorization: key }) },
      body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
    }),
  );
  const body = (await response.json()) as Omit<GraphQLResponse<Data>, 'status'>;
  return { status: response.status, ...body };
}
