// Checks a restJson1 request body against the service model the AWS SDK ships (its static
// schemas, e.g. `CreateAgentRuntimeRequest$`), so the fake refuses what AgentCore would refuse
// for shape reasons: unknown members, missing required ones, wrong kinds, unions with more
// than one member. It reads the model; it does not restate it.

type SchemaRef = unknown;

function resolve(ref: SchemaRef): unknown {
  let s = ref;
  for (let i = 0; typeof s === 'function' && i < 10; i++) s = (s as () => unknown)();
  return s;
}

/** A member entry is either a schema or `[schema, traits]`. */
function member(entry: unknown): { schema: unknown; traits: unknown } {
  if (Array.isArray(entry) && entry.length === 2) return { schema: entry[0], traits: entry[1] };
  return { schema: entry, traits: 0 };
}

/** Bound to the URL or a header rather than the JSON body (httpLabel is trait bit 1). */
function boundOutsideBody(traits: unknown): boolean {
  if (typeof traits === 'number') return (traits & 1) === 1;
  if (traits && typeof traits === 'object') {
    return 'httpQuery' in traits || 'httpHeader' in traits || 'httpLabel' in traits || 'httpPayload' in traits;
  }
  return false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function check(schemaRef: SchemaRef, value: unknown, path: string, errors: string[], body: boolean): void {
  const s = resolve(schemaRef);
  if (typeof s === 'number') {
    if (s & 64) {
      if (!Array.isArray(value)) errors.push(`${path} must be a list`);
    } else if (s & 128) {
      if (!isObject(value)) errors.push(`${path} must be a map`);
    } else if (s === 0 && typeof value !== 'string') errors.push(`${path} must be a string`);
    else if (s === 1 && typeof value !== 'number') errors.push(`${path} must be a number`);
    else if (s === 2 && typeof value !== 'boolean') errors.push(`${path} must be a boolean`);
    return;
  }
  if (!Array.isArray(s)) return;
  const kind = s[0] as number;
  if (kind === 0) return check(s[4], value, path, errors, false);
  if (kind === 1) {
    if (!Array.isArray(value)) return void errors.push(`${path} must be a list`);
    value.forEach((item, i) => check(member(s[4]).schema, item, `${path}[${i}]`, errors, false));
    return;
  }
  if (kind === 2) {
    if (!isObject(value)) return void errors.push(`${path} must be a map`);
    for (const [k, v] of Object.entries(value)) check(member(s[5]).schema, v, `${path}.${k}`, errors, false);
    return;
  }
  if (kind !== 3 && kind !== 4) return;
  if (!isObject(value)) return void errors.push(`${path} must be an object`);
  const names = s[4] as string[];
  const members = s[5] as unknown[];
  const required = (s[6] as number | undefined) ?? 0;
  for (const [key, v] of Object.entries(value)) {
    const i = names.indexOf(key);
    if (i < 0 || (body && boundOutsideBody(member(members[i]).traits))) {
      errors.push(`${path}.${key} is not a member of ${String(s[2])}`);
      continue;
    }
    check(member(members[i]).schema, v, `${path}.${key}`, errors, false);
  }
  for (let i = 0; i < required; i++) {
    if (body && boundOutsideBody(member(members[i]).traits)) continue;
    if (value[names[i]!] === undefined) errors.push(`${path}.${names[i]} is required`);
  }
  if (kind === 4 && Object.keys(value).length !== 1) errors.push(`${path} (a union) must have exactly one member`);
}

/** The shape errors of a JSON request body for the operation whose input schema is given. */
export function shapeErrors(inputSchema: SchemaRef, body: unknown): string[] {
  const errors: string[] = [];
  check(inputSchema, body, 'body', errors, true);
  return errors;
}
