// The DateTime scalar: graphql-scalars' RFC 3339 date-time, described with the range of
// instants the service takes. The domain holds each DateTime input to that range
// (src/domain/timestamps.ts), where the refusal can name the input it came from; a
// scalar only sees the value.
import { GraphQLScalarType } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { TIMESTAMP_RANGE } from '../domain/timestamps.js';

const config = DateTimeResolver.toConfig();

export const DateTime = new GraphQLScalarType<Date, Date | string>({
  ...config,
  description: `${config.description} Inputs are taken ${TIMESTAMP_RANGE}.`,
});
