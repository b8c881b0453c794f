// One build in a process of its own (lib/build/contained.ts starts it): reads
// `{ source, bundleMaxBytes }` as JSON on stdin, writes one JSON line of the outcome on
// stdout. Whatever the bundler does with a pathological source — throw outside any promise,
// stop its service, hang, eat memory — happens here, where the parent can kill it.
import type { FilesSource } from '../contracts/index.js';
import { BuildError, bundleFiles } from './bundle.js';

export type ChildOutcome =
  { ok: true; bundle: Awaited<ReturnType<typeof bundleFiles>> } | { ok: false; message: string };

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const { source, bundleMaxBytes } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
  source: FilesSource;
  bundleMaxBytes: number;
};

let outcome: ChildOutcome;
try {
  const bundle = await bundleFiles(source);
  const size = Object.values(bundle.modules).reduce((n, m) => n + Buffer.byteLength(m), 0);
  outcome =
    size > bundleMaxBytes
      ? { ok: false, message: `the bundle is ${size} bytes, over the ${bundleMaxBytes}-byte bundle limit` }
      : { ok: true, bundle };
} catch (err) {
  if (!(err instanceof BuildError)) throw err; // the parent reports it as a crash
  outcome = { ok: false, message: err.message };
}
process.stdout.write(JSON.stringify(outcome) + '\n', () => process.exit(0));
