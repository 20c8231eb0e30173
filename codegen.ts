// Types the GraphQL operations the tests send (test/graphql/**/*.ts, written with the
// `graphql()` function) from the checked-in schema.graphql: `npm run codegen`.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/**/*.ts', '!test/graphql/generated/**'],
  generates: {
    'test/graphql/generated/': {
      preset: 'client',
      config: {
        scalars: { UUID: 'string', DateTime: 'string', JSONObject: 'Record<string, unknown>', JSON: 'unknown' },
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
