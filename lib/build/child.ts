// One build in a process of its own (lib/build/contained.ts starts it): reads a
// `ChildInput` as JSON on stdin, writes one JSON line of the outcome on stdout. Whatever the
// build does with a pathological source — the bundler throwing outside any promise or
// stopping its service, npm or git hanging, anything eating memory — happens here and below,
// where the parent can kill the whole process group.
import { BuildError } from './errors.js';
import { buildProject, type ProjectBuildInput, type ProjectBuildResult } from './project.js';

export interface ChildInput extends Omit<ProjectBuildInput, 'deadline'> {
  /** How long the build may take from now; the parent kills it a little after. */
  timeoutMs: number;
}

export type ChildOutcome = { ok: true; result: ProjectBuildResult } | { ok: false; message: string };

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const { timeoutMs, ...input } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChildInput;

let outcome: ChildOutcome;
try {
  outcome = { ok: true, result: await buildProject({ ...input, deadline: Date.now() + timeoutMs }) };
} catch (err) {
  if (!(err instanceof BuildError)) throw err; // the parent reports it as a crash
  outcome = { ok: false, message: err.message };
}
process.stdout.write(JSON.stringify(outcome) + '\n', () => process.exit(0));
