// Reading the container files the way Docker and Compose read them, so that tests can hold
// them to package.json, the build settings and the service's configuration.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { at, defined } from '../support/items.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Instruction {
  keyword: string;
  /** The text after the keyword, continuation lines joined. */
  args: string;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages: comments dropped, `\` continuations joined, split at FROM. */
export function readDockerfile(text = readFileSync(`${ROOT}/Dockerfile`, 'utf8')): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = pending + raw.trim();
    if (line.endsWith('\\')) {
      pending = `${line.slice(0, -1).trim()} `;
      continue;
    }
    pending = '';
    if (line) lines.push(line);
  }
  const stages: Stage[] = [];
  for (const line of lines) {
    const instruction = /^(\S+)\s*(.*)$/.exec(line);
    if (!instruction) throw new Error(`Dockerfile line not understood: ${line}`);
    const keyword = at(instruction, 1);
    const args = at(instruction, 2);
    if (keyword.toUpperCase() === 'FROM') {
      const [from, as, name] = args.split(/\s+/);
      stages.push({ from: defined(from, `the image of ${line}`), name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

export function instructions(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** An exec-form command (`["node", "x.js"]`); a shell-form one is refused. */
export function execForm(args: string): string[] {
  const value: unknown = JSON.parse(args);
  if (!Array.isArray(value) || !value.every((part) => typeof part === 'string')) throw new Error(`not an exec-form command: ${args}`);
  return value;
}

/** A COPY's flags, sources and destination. */
export function parseCopy(args: string): { from?: string; sources: string[]; destination: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((word) => word.startsWith('--'));
  const paths = words.filter((word) => !word.startsWith('--'));
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
}

/** ENV's `NAME=value` pairs (values here need no quoting). */
export function parseEnv(args: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of args.flatMap((line) => line.split(/\s+/))) {
    const at = pair.indexOf('=');
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

/** The shell commands of RUN instructions, `&&`-chains split. */
export function runCommands(stage: Stage): string[] {
  return instructions(stage, 'RUN').flatMap((args) => args.split('&&').map((command) => command.trim()));
}

export interface ComposeService {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  restart?: string;
}

export function readCompose(): { services: Record<string, ComposeService> } {
  return parseYaml(readFileSync(`${ROOT}/compose.yaml`, 'utf8'), { merge: true });
}

export function readPackageJson(): { scripts: Record<string, string>; engines: { node: string } } {
  return JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8'));
}

/** Whether `version` (x.y) falls in an engines range made of `^x.y` and `>=x` alternatives. */
export function satisfiesEngines(version: string, range: string): boolean {
  const parts = version.split('.').map(Number);
  const major = at(parts, 0);
  const minor = at(parts, 1, 'minor version');
  return range.split('||').some((alternative) => {
    const caret = /^\^(\d+)\.(\d+)$/.exec(alternative.trim());
    if (caret) return major === Number(caret[1]) && minor >= Number(caret[2]);
    const atLeast = /^>=\s*(\d+)(?:\.(\d+))?$/.exec(alternative.trim());
    if (atLeast) return major > Number(atLeast[1]) || (major === Number(atLeast[1]) && minor >= Number(atLeast[2] ?? 0));
    throw new Error(`engines range not understood: ${alternative}`);
  });
}

/** Whether .dockerignore keeps `path` (a top-level name or a path below one) out of the context. */
export function dockerIgnores(path: string, ignoreFile = readFileSync(`${ROOT}/.dockerignore`, 'utf8')): boolean {
  const patterns = ignoreFile
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const normalized = path.replace(/^\.\//, '').replace(/\/$/, '');
  return patterns.some((pattern) => {
    const bare = pattern.replace(/\/$/, '');
    if (bare.startsWith('*.')) return normalized.endsWith(bare.slice(1));
    return normalized === bare || normalized.startsWith(`${bare}/`);
  });
}

/**
 * Every environment variable the service reads: `env.NAME`, `env['NAME']` and
 * `(env, 'NAME'` (config.ts's readers) anywhere in src/ but the generated client.
 */
export function variablesTheServiceReads(): Set<string> {
  const names = new Set<string>();
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter(
    (file) => file.endsWith('.ts') && !file.includes('generated'),
  );
  for (const file of files) {
    const source = readFileSync(join(ROOT, 'src', file), 'utf8');
    for (const match of source.matchAll(/env\.([A-Z][A-Z0-9_]+)|env\[['"]([A-Z][A-Z0-9_]+)['"]\]|\(env, '([A-Z][A-Z0-9_]+)'/g)) {
      names.add(defined(match[1] ?? match[2] ?? match[3], `the variable of ${match[0]}`));
    }
  }
  return names;
}
