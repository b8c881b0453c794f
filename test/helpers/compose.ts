// Reading docker-compose.yml the way `docker compose` does, for test/deploy/compose.unit.test.ts:
// YAML with merge keys, then ${...} interpolation against the variables .env gives.

/** Thrown for `${VAR:?message}` / `${VAR?message}` when the variable is missing. */
export class MissingVariableError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`required variable ${variable} is missing a value: ${message}`);
  }
}

/**
 * Compose's interpolation of one string: `$$` is a literal `$`; `$VAR` and `${VAR}`; and with a
 * default, alternative or error — `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
 * `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?error}` (unset or empty), `${VAR?error}` (unset).
 * Defaults may themselves hold `${...}`, as in Compose.
 */
export function interpolate(input: string, env: Record<string, string | undefined>): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(input, i + 2);
      out += expand(input.slice(i + 2, end), env);
      i = end + 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(i + 1))?.[0];
    if (!name) throw new Error(`invalid interpolation at "${input.slice(i)}": write $$ for a literal $`);
    out += env[name] ?? '';
    i += 1 + name.length;
  }
  return out;
}

function closingBrace(input: string, from: number): number {
  let depth = 1;
  for (let j = from; j < input.length; j++) {
    if (input[j] === '$' && input[j + 1] === '{') {
      depth++;
      j++;
    } else if (input[j] === '}' && --depth === 0) return j;
  }
  throw new Error(`unclosed \${ in "${input}"`);
}

function expand(body: string, env: Record<string, string | undefined>): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([\s\S]*))?$/.exec(body);
  if (!m) throw new Error(`invalid interpolation \${${body}}`);
  const [, name, op, arg = ''] = m as unknown as [string, string, string | undefined, string | undefined];
  const value = env[name];
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  switch (op) {
    case undefined:
      return value ?? '';
    case ':-':
      return nonEmpty ? value : interpolate(arg, env);
    case '-':
      return set ? value : interpolate(arg, env);
    case ':+':
      return nonEmpty ? interpolate(arg, env) : '';
    case '+':
      return set ? interpolate(arg, env) : '';
    case ':?':
      if (!nonEmpty) throw new MissingVariableError(name, arg);
      return value;
    case '?':
      if (!set) throw new MissingVariableError(name, arg);
      return value;
    default:
      throw new Error(`invalid interpolation \${${body}}`);
  }
}

/**
 * Interpolates every string value of a parsed Compose file (keys are left alone, as Compose
 * does). Every missing required variable is reported, not only the first.
 */
export function interpolateAll(doc: unknown, env: Record<string, string | undefined>): unknown {
  const missing = new Map<string, MissingVariableError>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      try {
        return interpolate(v, env);
      } catch (err) {
        if (!(err instanceof MissingVariableError)) throw err;
        missing.set(err.variable, err);
        return '';
      }
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const out = walk(doc);
  if (missing.size > 0) throw new AggregateError([...missing.values()], [...missing.keys()].join(', '));
  return out;
}

/** `KEY=value` and `# KEY=value` lines of an env file: every variable it documents, set or not. */
export function documentedVariables(envFile: string): string[] {
  return [...envFile.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
}

/** The stages of a Dockerfile, by their `AS` names. */
export function dockerfileStages(dockerfile: string): Map<string, string> {
  const stages = new Map<string, string>();
  const parts = dockerfile.split(/^(?=FROM\s)/im);
  for (const part of parts) {
    const name = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(part)?.[1];
    if (name) stages.set(name, part);
  }
  return stages;
}
