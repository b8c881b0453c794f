/** Folders a browser upload leaves out: dependencies are installed by the build, never uploaded. */
const SKIPPED = /(^|\/)(node_modules|\.git|dist|\.wrangler|\.data)(\/|$)/;

/**
 * A picked folder (`<input webkitdirectory>`) as a files source's `files`: paths relative to
 * the folder (its own name dropped), text contents, dependency and VCS folders left out.
 */
export async function filesOfFolder(list: Iterable<File>): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const file of list) {
    const full = file.webkitRelativePath || file.name;
    const path = full.includes('/') ? full.slice(full.indexOf('/') + 1) : full;
    if (!path || SKIPPED.test(path)) continue;
    files[path] = await file.text();
  }
  return files;
}

const MANIFESTS = ['package.json', 'wrangler.toml', 'wrangler.json', 'wrangler.jsonc'];

/** The entry to send when none is given: none for a project (its manifest names it), else `index.js` as `webhost deploy` does. */
export function defaultEntry(files: Record<string, string>): string | undefined {
  if (MANIFESTS.some((m) => m in files)) return undefined;
  return ['index.js', 'index.mjs', 'index.ts'].find((f) => f in files) ?? 'index.js';
}
