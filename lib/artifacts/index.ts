import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerBundle } from '../runtime/provider.js';

/**
 * Built bundles, content-addressed by the SHA-256 of their JSON. Workflows pass the digest,
 * never the code, so histories stay small. On one machine this is a folder; several
 * workers would share object storage behind the same two calls.
 */
export class ArtifactStore {
  constructor(private readonly dir: string) {}

  async put(bundle: WorkerBundle): Promise<string> {
    const body = JSON.stringify(bundle);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    await mkdir(this.dir, { recursive: true });
    const path = this.path(digest);
    const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await writeFile(tmp, body);
    await rename(tmp, path);
    return digest;
  }

  async get(digest: string): Promise<WorkerBundle> {
    return JSON.parse(await readFile(this.path(digest), 'utf8')) as WorkerBundle;
  }

  private path(digest: string): string {
    const hex = /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1];
    if (!hex) throw new Error(`not an artifact digest: ${digest}`);
    return join(this.dir, `${hex}.json`);
  }
}
