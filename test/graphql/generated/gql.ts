/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query RunsPage($first: Int!) {\n    flowRuns(first: $first) {\n      totalCount\n      edges { node { id status flow { id name } messageThread { id channel identifier } } }\n    }\n  }\n": typeof types.RunsPageDocument,
    "\n  mutation CreateFlow($input: CreateFlowInput!) { createFlow(input: $input) { flow { id name sessionTimeout } } }\n": typeof types.CreateFlowDocument,
    "\n  mutation Trigger($input: TriggerFlowRunInput!) {\n    triggerFlowRun(input: $input) {\n      replayed\n      flowRun { id status state initialMessage cost flow { id } messageThread { id } }\n    }\n  }\n": typeof types.TriggerDocument,
    "\n  mutation Patch($id: UUID!, $input: PatchFlowRunInput!) { patchFlowRun(id: $id, input: $input) { flowRun { id status state } } }\n": typeof types.PatchDocument,
    "mutation Delete($id: UUID!) { deleteFlowRun(id: $id) { deletedId } }": typeof types.DeleteDocument,
    "query Run($id: UUID!) { flowRun(id: $id) { id status } }": typeof types.RunDocument,
    "\n  query Runs($filter: FlowRunFilter, $orderBy: [FlowRunOrder!], $first: Int, $after: String, $offset: Int) {\n    flowRuns(filter: $filter, orderBy: $orderBy, first: $first, after: $after, offset: $offset) {\n      totalCount\n      totalUnfilteredCount\n      pageInfo { hasNextPage endCursor }\n      edges { node { id status } }\n    }\n  }\n": typeof types.RunsDocument,
};
const documents: Documents = {
    "\n  query RunsPage($first: Int!) {\n    flowRuns(first: $first) {\n      totalCount\n      edges { node { id status flow { id name } messageThread { id channel identifier } } }\n    }\n  }\n": types.RunsPageDocument,
    "\n  mutation CreateFlow($input: CreateFlowInput!) { createFlow(input: $input) { flow { id name sessionTimeout } } }\n": types.CreateFlowDocument,
    "\n  mutation Trigger($input: TriggerFlowRunInput!) {\n    triggerFlowRun(input: $input) {\n      replayed\n      flowRun { id status state initialMessage cost flow { id } messageThread { id } }\n    }\n  }\n": types.TriggerDocument,
    "\n  mutation Patch($id: UUID!, $input: PatchFlowRunInput!) { patchFlowRun(id: $id, input: $input) { flowRun { id status state } } }\n": types.PatchDocument,
    "mutation Delete($id: UUID!) { deleteFlowRun(id: $id) { deletedId } }": types.DeleteDocument,
    "query Run($id: UUID!) { flowRun(id: $id) { id status } }": types.RunDocument,
    "\n  query Runs($filter: FlowRunFilter, $orderBy: [FlowRunOrder!], $first: Int, $after: String, $offset: Int) {\n    flowRuns(filter: $filter, orderBy: $orderBy, first: $first, after: $after, offset: $offset) {\n      totalCount\n      totalUnfilteredCount\n      pageInfo { hasNextPage endCursor }\n      edges { node { id status } }\n    }\n  }\n": types.RunsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query RunsPage($first: Int!) {\n    flowRuns(first: $first) {\n      totalCount\n      edges { node { id status flow { id name } messageThread { id channel identifier } } }\n    }\n  }\n"): (typeof documents)["\n  query RunsPage($first: Int!) {\n    flowRuns(first: $first) {\n      totalCount\n      edges { node { id status flow { id name } messageThread { id channel identifier } } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateFlow($input: CreateFlowInput!) { createFlow(input: $input) { flow { id name sessionTimeout } } }\n"): (typeof documents)["\n  mutation CreateFlow($input: CreateFlowInput!) { createFlow(input: $input) { flow { id name sessionTimeout } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Trigger($input: TriggerFlowRunInput!) {\n    triggerFlowRun(input: $input) {\n      replayed\n      flowRun { id status state initialMessage cost flow { id } messageThread { id } }\n    }\n  }\n"): (typeof documents)["\n  mutation Trigger($input: TriggerFlowRunInput!) {\n    triggerFlowRun(input: $input) {\n      replayed\n      flowRun { id status state initialMessage cost flow { id } messageThread { id } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Patch($id: UUID!, $input: PatchFlowRunInput!) { patchFlowRun(id: $id, input: $input) { flowRun { id status state } } }\n"): (typeof documents)["\n  mutation Patch($id: UUID!, $input: PatchFlowRunInput!) { patchFlowRun(id: $id, input: $input) { flowRun { id status state } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Delete($id: UUID!) { deleteFlowRun(id: $id) { deletedId } }"): (typeof documents)["mutation Delete($id: UUID!) { deleteFlowRun(id: $id) { deletedId } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Run($id: UUID!) { flowRun(id: $id) { id status } }"): (typeof documents)["query Run($id: UUID!) { flowRun(id: $id) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Runs($filter: FlowRunFilter, $orderBy: [FlowRunOrder!], $first: Int, $after: String, $offset: Int) {\n    flowRuns(filter: $filter, orderBy: $orderBy, first: $first, after: $after, offset: $offset) {\n      totalCount\n      totalUnfilteredCount\n      pageInfo { hasNextPage endCursor }\n      edges { node { id status } }\n    }\n  }\n"): (typeof documents)["\n  query Runs($filter: FlowRunFilter, $orderBy: [FlowRunOrder!], $first: Int, $after: String, $offset: Int) {\n    flowRuns(filter: $filter, orderBy: $orderBy, first: $first, after: $after, offset: $offset) {\n      totalCount\n      totalUnfilteredCount\n      pageInfo { hasNextPage endCursor }\n      edges { node { id status } }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;