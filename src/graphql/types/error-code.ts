import { ERROR_CODES, type ErrorCode as Code } from '../../domain/errors.js';
import { builder } from '../builder.js';

// The values that `errors[].extensions.code` takes for the domain's errors (the REST
// surface uses the same), and the `code` of the errors a mutation answers in its payload.
export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'The `extensions.code` of a domain error; the JSON:API surface reports the same codes.',
  values: Object.keys(ERROR_CODES) as Code[],
});
