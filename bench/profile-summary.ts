// node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top 25]
// Summarises a V8 CPU profile (from `npm run bench -- --cpu-prof DIR`): the share of
// samples spent in each package (self time, by the file a frame's code is in) and the
// top frames by self time, as Markdown tables for docs/BENCHMARKS.md.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const [file] = positionals;
if (!file) {
  console.error('usage: bench/profile-summary.ts <file.cpuprofile> [--top N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, index) => {
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
});
const total = [...selfMicros.values()].reduce((sum, value) => sum + value, 0);

/** Where a frame's code lives: a package, the service's own code, Node.js, or V8's pseudo-frames. */
function placeOf({ url, functionName }: ProfileNode['callFrame']): string {
  if (!url) return `(${functionName.replace(/[()]/g, '') || 'native'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return 'node: (Node.js)';
  const own = /\/(dist|src|bench)\/(.*)$/.exec(url);
  return own ? `${own[1]}/ (ours)` : url;
}

const byPlace = new Map<string, number>();
const byFrame = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const node = byId.get(id);
  if (!node) continue;
  const place = placeOf(node.callFrame);
  byPlace.set(place, (byPlace.get(place) ?? 0) + micros);
  const file = node.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/(dist|src)\//, '$1/');
  const frame = `${node.callFrame.functionName || '(anonymous)'} ${file ? `${file}:${node.callFrame.lineNumber + 1}` : ''}`.trim();
  byFrame.set(frame, (byFrame.get(frame) ?? 0) + micros);
}

const top = Number(values.top);
const percent = (micros: number) => `${((100 * micros) / total).toFixed(1)}%`;
const table = (title: string, rows: Map<string, number>) => {
  console.log(`\n| ${title} | self time |\n|---|---:|`);
  for (const [name, micros] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`| ${name.replace(/\|/g, '\\|')} | ${percent(micros)} |`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
table('where', byPlace);
table('frame', byFrame);
