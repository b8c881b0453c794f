import { z } from 'zod';
import { Id, Runtime } from './common.js';
import { Framework, projectEntry } from './projects.js';

/** Limits on a `files` source; larger code belongs in a git or image source. */
export const FILES_MAX_COUNT = 200;
export const FILES_MAX_TOTAL_BYTES = 5 * 1024 * 1024;

const FilePath = z
  .string()
  .min(1)
  .max(256)
  .regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._\/@-]+$/, 'a relative path without . or .. segments');

/** A file path inside a project, or a folder of a repository. */
export const ProjectPath = FilePath;

export const FilesSource = z
  .strictObject({
    type: z.literal('files'),
    /** Optional when package.json (`main`/`module`) or wrangler.toml / wrangler.json (`main`) names it. */
    entry: FilePath.optional(),
    files: z.record(FilePath, z.string()),
  })
  .superRefine((s, ctx) => {
    const names = Object.keys(s.files);
    if (names.length === 0) ctx.addIssue({ code: 'custom', path: ['files'], message: 'at least one file is required' });
    if (names.length > FILES_MAX_COUNT)
      ctx.addIssue({ code: 'custom', path: ['files'], message: `at most ${FILES_MAX_COUNT} files` });
    const total = names.reduce((n, k) => n + Buffer.byteLength(s.files[k] ?? ''), 0);
    if (total > FILES_MAX_TOTAL_BYTES)
      ctx.addIssue({
        code: 'custom',
        path: ['files'],
        message: `files total more than ${FILES_MAX_TOTAL_BYTES} bytes`,
      });
    if (names.length === 0) return;
    if ('requirements.txt' in s.files && !('package.json' in s.files)) {
      ctx.addIssue({
        code: 'custom',
        path: ['files'],
        message:
          'a Python project (requirements.txt) runs only on the agentcore runtime, from an image source ({ type: "image", uri })',
      });
      return;
    }
    const found = projectEntry((p) => s.files[p], s.entry);
    if (!found.ok)
      ctx.addIssue({ code: 'custom', path: [s.entry === undefined ? 'files' : 'entry'], message: found.message });
    else if (!(found.entry in s.files))
      ctx.addIssue({
        code: 'custom',
        path: [s.entry === undefined ? 'files' : 'entry'],
        message:
          found.from === 'entry'
            ? `entry "${s.entry}" is not one of the files`
            : `the entry ${found.from} names, "${found.entry}", is not one of the files (the platform runs no build scripts: name the source file)`,
      });
  });
export type FilesSource = z.infer<typeof FilesSource>;

/**
 * Where a git source may be fetched from: `https://` (public, no credentials in the URL) or
 * `file://` (a local repository, allowed only under the platform's `WEBHOST_GIT_LOCAL_ROOTS`,
 * which the api and the build check). Never ssh or plain http. Messages never repeat the URL,
 * which may hold a credential.
 */
export const GitUrl = z
  .string()
  .min(1)
  .max(2048)
  .superRefine((raw, ctx) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a URL: give an https:// or file:// git URL' });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'file:') {
      ctx.addIssue({
        code: 'custom',
        message: `git URLs must be https:// (or file:// on this platform's allowed folders), not ${url.protocol.replace(':', '')}`,
      });
      return;
    }
    if (url.username || url.password)
      ctx.addIssue({ code: 'custom', message: 'credentials in git URLs are not accepted; use a public https URL' });
    if (url.protocol === 'file:' && (url.host !== '' || !url.pathname.startsWith('/')))
      ctx.addIssue({ code: 'custom', message: 'a file:// git URL is file:///absolute/path' });
  });

/** A branch, tag or commit sha: git's ref rules, and never something git would read as an option. */
export const GitRef = z
  .string()
  .min(1)
  .max(200)
  .regex(
    /^(?![-/.])(?!.*(\.\.|\/\/|@\{|\.lock$|\/$|\.$))[A-Za-z0-9._\/+-]+$/,
    'a branch, tag or commit sha (letters, digits, . _ / + -; not starting with - / or .)',
  );

export const GitSource = z.strictObject({
  type: z.literal('git'),
  url: GitUrl,
  ref: GitRef,
  /** The project's folder inside the repository, when it is not the root. */
  path: ProjectPath.optional(),
  /** Optional as for `files`. */
  entry: FilePath.optional(),
});
export type GitSource = z.infer<typeof GitSource>;

/** A container image (AgentCore only). */
export const ImageSource = z.strictObject({
  type: z.literal('image'),
  uri: z
    .string()
    .min(1)
    .max(512)
    .regex(
      /^[a-z0-9][a-z0-9.:\/@_-]*$/,
      'a container image URI such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1',
    ),
});
export type ImageSource = z.infer<typeof ImageSource>;

export const SourceType = z.enum(['files', 'git', 'image']);
export type SourceType = z.infer<typeof SourceType>;

export const DeploymentSource = z.discriminatedUnion('type', [FilesSource, GitSource, ImageSource]);
export type DeploymentSource = z.infer<typeof DeploymentSource>;

export const CreateDeploymentBody = z.strictObject({ source: DeploymentSource });
export type CreateDeploymentBody = z.infer<typeof CreateDeploymentBody>;

export const DeploymentStatus = z.enum(['queued', 'building', 'deploying', 'live', 'failed', 'canceled']);
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;
export const FINAL_STATUSES: readonly DeploymentStatus[] = ['live', 'failed', 'canceled'];
/** A deployment in one of these is in flight; an agent has at most one (architecture.md, Invariants). */
export const IN_FLIGHT_STATUSES = ['queued', 'building', 'deploying'] as const satisfies readonly DeploymentStatus[];

/** The lifecycle (architecture.md, Invariants): where a deployment may go from each status; final ones go nowhere. */
export const DEPLOYMENT_TRANSITIONS: Record<DeploymentStatus, readonly DeploymentStatus[]> = {
  queued: ['building', 'failed', 'canceled'],
  building: ['deploying', 'failed', 'canceled'],
  deploying: ['live', 'failed', 'canceled'],
  live: [],
  failed: [],
  canceled: [],
};
export const isFinal = (s: DeploymentStatus) => FINAL_STATUSES.includes(s);
export const isInFlight = (s: DeploymentStatus) => (IN_FLIGHT_STATUSES as readonly DeploymentStatus[]).includes(s);

/** The statuses a deployment may move to `to` from. */
export const statusesLeadingTo = (to: DeploymentStatus): DeploymentStatus[] =>
  DeploymentStatus.options.filter((from) => DEPLOYMENT_TRANSITIONS[from].includes(to));

export type TransitionJudgement = { kind: 'apply' } | { kind: 'repeat' } | { kind: 'refuse'; message: string };

/**
 * Whether a deployment in `from` may move to `to`. Moving to the status it is already in is
 * a `repeat`: success that changes nothing, since activities are retried. Every store
 * adapter decides by this one rule.
 */
export function judgeTransition(from: DeploymentStatus, to: DeploymentStatus): TransitionJudgement {
  if (DEPLOYMENT_TRANSITIONS[from].includes(to)) return { kind: 'apply' };
  if (from === to) return { kind: 'repeat' };
  return {
    kind: 'refuse',
    message: isFinal(from)
      ? `deployment is ${from} and can no longer change`
      : `deployment cannot move from ${from} to ${to}`,
  };
}

export const DeployStep = z.enum([
  'validate',
  'bundle',
  'create_version',
  'health_check',
  'activate',
  'mark_live',
  'compensate',
]);
export type DeployStep = z.infer<typeof DeployStep>;

export const StepLogEntry = z.object({
  step: DeployStep,
  status: z.enum(['started', 'succeeded', 'failed']),
  at: z.iso.datetime(),
  message: z.string().optional(),
});
export type StepLogEntry = z.infer<typeof StepLogEntry>;

export const Deployment = z.object({
  id: z.string(),
  agentId: z.string(),
  ownerId: z.string(),
  version: z.number().int(),
  runtime: Runtime,
  status: DeploymentStatus,
  sourceType: SourceType,
  /** Detected at build time from the project's manifest; null until built. */
  framework: Framework.nullable(),
  /** The commit a git source was built from; null for other sources and until built. */
  commitSha: z.string().nullable(),
  artifactDigest: z.string().nullable(),
  providerRef: z.string().nullable(),
  workflowId: z.string(),
  steps: z.array(StepLogEntry),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type Deployment = z.infer<typeof Deployment>;

/** The step-log entry a transition records: none unless it names the step that ended. */
export function transitionStepEntry(input: {
  to: DeploymentStatus;
  step?: DeployStep | undefined;
  now: Date;
  error?: { message: string } | undefined;
}): StepLogEntry | null {
  if (!input.step) return null;
  return {
    step: input.step,
    status: input.to === 'failed' ? 'failed' : 'succeeded',
    at: input.now.toISOString(),
    ...(input.error ? { message: input.error.message } : {}),
  };
}

/** `POST /v1/agents/:id/rollback`. */
export const RollbackBody = z.strictObject({ deploymentId: Id });
export type RollbackBody = z.infer<typeof RollbackBody>;

/**
 * Why a deployment cannot be rolled back to, or null when it can: it must be the agent's own
 * and have reached `live` (a deployment's status never changes after that, so `live` means
 * it served once), with a version at its runtime. The api asks before it starts a rollback,
 * the rollback workflow again before it changes anything.
 */
export function rollbackRefusal(deployment: Deployment, agentId: string): string | null {
  if (deployment.agentId !== agentId) return `deployment ${deployment.id} is not a deployment of this agent`;
  if (deployment.status !== 'live') {
    return `deployment ${deployment.id} is ${deployment.status}; only a deployment that reached live can serve again`;
  }
  if (!deployment.providerRef) return `deployment ${deployment.id} has no version at its runtime`;
  return null;
}
