// The GraphQL schema: one builder, one file per domain type.
import { builder } from './builder.js';
import './types/flow-run.js';
import './types/flow.js';
import './types/message-thread.js';
import './types/error-code.js';
import './types/flow-run-changed.js';
import './types/webhook-endpoint.js';

export const schema = builder.toSchema({ sortSchema: false });
