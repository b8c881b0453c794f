// Runs every test layer (unit, integration, e2e, security, faults, browser) with vitest and closes with one plain
// summary line ("tests: N passed, N failed, N skipped") that CI can read.
import type { RunnerTask } from 'vitest';
import { startVitest } from 'vitest/node';

const vitest = await startVitest('test', process.argv.slice(2), { watch: false });
const files = vitest?.state.getFiles() ?? [];
const flat = (t: RunnerTask): RunnerTask[] => (t.type === 'suite' ? t.tasks.flatMap(flat) : [t]);
const tests = files.flatMap(flat).filter((t) => t.type === 'test');
const passed = tests.filter((t) => t.result?.state === 'pass').length;
// A file that failed outside any test (a hook, an import) counts as one failure.
const failedOutsideTests = files.filter(
  (f) => f.result?.state === 'fail' && !flat(f).some((t) => t.result?.state === 'fail'),
).length;
const failed = tests.filter((t) => t.result?.state === 'fail').length + failedOutsideTests;
const skipped = tests.filter((t) => t.mode === 'skip' || t.mode === 'todo').length;
const unhandled = vitest?.state.getUnhandledErrors().length ?? 0;
await vitest?.close();
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (unhandled) console.log(`${unhandled} unhandled error(s); see above`);
process.exit(failed === 0 && unhandled === 0 && passed > 0 ? 0 : 1);
