import { z } from 'zod';

// What a project's own files say about it: where its entry is (package.json, wrangler.toml /
// wrangler.json) and which framework it is written with. Pure functions over file texts,
// shared by the api (to refuse what it can see up front) and the build (which sees the rest).

/** Frameworks the platform recognises from a project's manifest; `plain` when none of them. */
export const Framework = z.enum(['ai-sdk', 'cloudflare-agents', 'langgraph', 'mastra', 'hono', 'plain', 'python']);
export type Framework = z.infer<typeof Framework>;

/** Package → framework, most specific first: an AI SDK agent served with Hono is an AI SDK agent. */
const FRAMEWORK_PACKAGES: readonly [string, Framework][] = [
  ['agents', 'cloudflare-agents'],
  ['@mastra/core', 'mastra'],
  ['@langchain/langgraph', 'langgraph'],
  ['ai', 'ai-sdk'],
  ['hono', 'hono'],
];

export interface PackageJson {
  name?: unknown;
  main?: unknown;
  module?: unknown;
  dependencies?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
  optionalDependencies?: Record<string, unknown>;
  peerDependencies?: Record<string, unknown>;
  overrides?: unknown;
  workspaces?: unknown;
}

/** `package.json` as an object, or an error that says what is wrong with it. */
export function parsePackageJson(text: string): { ok: true; pkg: PackageJson } | { ok: false; message: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, message: 'package.json is not valid JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { ok: false, message: 'package.json is not a JSON object' };
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const) {
    const deps = (parsed as PackageJson)[field];
    if (deps === undefined) continue;
    if (deps === null || typeof deps !== 'object' || Array.isArray(deps))
      return { ok: false, message: `package.json ${field} is not an object` };
    for (const [name, spec] of Object.entries(deps))
      if (typeof spec !== 'string') return { ok: false, message: `package.json ${field}.${name} is not a string` };
  }
  return { ok: true, pkg: parsed as PackageJson };
}

/**
 * The framework a project is written with, from the packages it depends on (runtime and dev
 * dependencies both count). A Python project (`requirements.txt` without a `package.json`)
 * is `python`.
 */
export function detectFramework(pkg: PackageJson | null, hasRequirementsTxt = false): Framework {
  if (!pkg) return hasRequirementsTxt ? 'python' : 'plain';
  const names = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
  return FRAMEWORK_PACKAGES.find(([name]) => names.has(name))?.[1] ?? 'plain';
}

/**
 * The `main` key of a `wrangler.toml`: only the top-level table is read (a `main` inside
 * `[env.x]` or any other table is not the project's entry). A minimal reader of one string
 * key, not a TOML parser: basic ("…", with \" and \\ escapes) and literal ('…') strings.
 */
export function wranglerTomlMain(text: string): string | null {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('[')) return null; // the top-level table ended
    const m = /^main\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(?:#.*)?$/.exec(line);
    if (m) return m[1] !== undefined ? m[1].replace(/\\(["\\])/g, '$1') : (m[2] ?? null);
  }
  return null;
}

/** The `main` key of a `wrangler.json` / `wrangler.jsonc` (comments and trailing commas allowed). */
export function wranglerJsonMain(text: string): string | null {
  let out = '';
  // Drop comments outside strings, then trailing commas.
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else out += ch;
  }
  try {
    const parsed = JSON.parse(out.replace(/,(\s*[}\]])/g, '$1')) as { main?: unknown };
    return typeof parsed?.main === 'string' ? parsed.main : null;
  } catch {
    return null;
  }
}

/** A manifest's path as a project-relative path, or null when it leaves the project. */
export function normalizeEntry(path: string): string | null {
  const parts: string[] = [];
  for (const part of path.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    parts.push(part);
  }
  if (path.startsWith('/') || parts.length === 0) return null;
  return parts.join('/');
}

export type EntryResult = { ok: true; entry: string; from: string } | { ok: false; message: string };

/**
 * Where a project's code starts: the `entry` given, else `main` of `wrangler.toml` /
 * `wrangler.jsonc` / `wrangler.json`, else `module` or `main` of `package.json`. `read` gives a
 * project file's text (undefined when absent). Whether the entry file exists is the caller's
 * check.
 */
export function projectEntry(read: (path: string) => string | undefined, explicit?: string): EntryResult {
  if (explicit !== undefined) {
    const entry = normalizeEntry(explicit);
    return entry
      ? { ok: true, entry, from: 'entry' }
      : { ok: false, message: `entry "${explicit}" leaves the project` };
  }
  const candidates: [string, (text: string) => string | null][] = [
    ['wrangler.toml', wranglerTomlMain],
    ['wrangler.jsonc', wranglerJsonMain],
    ['wrangler.json', wranglerJsonMain],
  ];
  for (const [file, read_] of candidates) {
    const text = read(file);
    if (text === undefined) continue;
    const main = read_(text);
    if (main === null) continue;
    const entry = normalizeEntry(main);
    return entry
      ? { ok: true, entry, from: `${file} main` }
      : { ok: false, message: `${file} main "${main}" leaves the project` };
  }
  const pkgText = read('package.json');
  if (pkgText === undefined)
    return { ok: false, message: 'no entry: give "entry", or a package.json with "main" or "module"' };
  const parsed = parsePackageJson(pkgText);
  if (!parsed.ok) return parsed;
  for (const field of ['module', 'main'] as const) {
    const value = parsed.pkg[field];
    if (typeof value !== 'string' || value === '') continue;
    const entry = normalizeEntry(value);
    return entry
      ? { ok: true, entry, from: `package.json ${field}` }
      : { ok: false, message: `package.json ${field} "${value}" leaves the project` };
  }
  return {
    ok: false,
    message: 'package.json names no entry: set "main" or "module" (or wrangler.toml "main"), or give "entry"',
  };
}
