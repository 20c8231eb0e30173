// A graphql-inspector diff rule (`--rule`): the breaking changes listed in
// schema-changes.json (or the file SCHEMA_CHANGES names) are intended, and pass as
// dangerous; any other breaking change still fails the diff. A listed change that the
// diff no longer finds fails too, so the list says exactly what the next release breaks.
const { readFileSync } = require('node:fs');
const { resolve } = require('node:path');

const listPath = resolve(process.env.SCHEMA_CHANGES || 'schema-changes.json');
const { intended } = JSON.parse(readFileSync(listPath, 'utf8'));
const key = (change) => `${change.type} ${change.path}`;

module.exports = function intendedSchemaChanges({ changes }) {
  const listed = new Map(intended.map((entry) => [key(entry), entry]));
  const seen = new Set();
  const judged = changes.map((change) => {
    const entry = change.criticality.level === 'BREAKING' ? listed.get(key(change)) : undefined;
    if (!entry) return change;
    seen.add(key(entry));
    return { ...change, criticality: { level: 'DANGEROUS', reason: `intended (${listPath}): ${entry.why}` } };
  });
  const stale = [...listed.keys()].filter((name) => !seen.has(name));
  if (stale.length) {
    throw new Error(`listed as intended in ${listPath} but not a breaking change of this schema: ${stale.join(', ')}`);
  }
  return judged;
};
