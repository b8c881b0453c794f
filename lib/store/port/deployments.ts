import { z } from 'zod';
import {
  DeploymentStatus,
  DeploymentSource,
  DeployStep,
  Framework,
  Id,
  StepLogEntry,
  type Runtime,
  type Deployment,
  type Page,
  type PageQuery,
} from '../../contracts/index.js';
import { AuditNoteRule, type AuditNote } from './audit.js';
import { Instant, PageArgs, Short, type Rules } from './rules.js';

/** Deployments: immutable records of a deploy's lifecycle (architecture.md, Invariants). */
export interface DeploymentStore {
  /**
   * Creates a `queued` deployment with the next version number. At most one deployment
   * of an agent is in flight: a second one is refused with `conflict`.
   */
  createDeployment(input: CreateDeploymentInput): Promise<Deployment>;
  getDeployment(ownerId: string, deploymentId: string): Promise<Deployment>;
  getDeploymentSource(ownerId: string, deploymentId: string): Promise<DeploymentSource>;
  listDeployments(ownerId: string, agentId: string, page: PageQuery): Promise<Page<Deployment>>;
  /**
   * Moves a deployment along its lifecycle. Final states (`live`, `failed`, `canceled`)
   * never change again; a repeat of the transition that already happened is success
   * (`judgeTransition` in lib/contracts).
   */
  transitionDeployment(input: TransitionInput): Promise<Deployment>;
  /** Appends to the step log of a deployment that is not final yet, with the provider's version once known. */
  recordDeploymentStep(input: RecordStepInput): Promise<void>;
  /**
   * Records what the build found (framework, and the commit of a git source) on a deployment
   * that is not final yet. Repeating it with the same values changes nothing.
   */
  recordDeploymentBuild(input: RecordBuildInput): Promise<void>;
  /**
   * Whose a deployment is, found by its id alone, or null when there is none. Not for a user's
   * request (those are scoped by owner): for a caller that proves itself with the deployment's
   * own key, such as the shim's signed telemetry, which names only its deployment.
   */
  findDeploymentOwner(deploymentId: string): Promise<DeploymentOwner | null>;
}

export interface DeploymentOwner {
  deploymentId: string;
  ownerId: string;
  agentId: string;
  runtime: Runtime;
}

export interface CreateDeploymentInput {
  id: string;
  ownerId: string;
  agentId: string;
  workflowId: string;
  source: DeploymentSource;
  now: Date;
}

export interface TransitionInput {
  ownerId: string;
  deploymentId: string;
  to: DeploymentStatus;
  now: Date;
  step?: DeployStep;
  artifactDigest?: string;
  providerRef?: string;
  error?: { code: string; message: string };
  /** Written with the transition, if it happens (a repeat writes none). */
  audit?: AuditNote;
}

export interface RecordBuildInput {
  ownerId: string;
  deploymentId: string;
  framework: Framework;
  /** The commit a git source was built from. */
  commitSha?: string;
}

export interface RecordStepInput {
  ownerId: string;
  deploymentId: string;
  entry: StepLogEntry;
  providerRef?: string;
}

export const deploymentRules: Rules<DeploymentStore> = {
  createDeployment: z.tuple([
    z.object({ id: Id, ownerId: Id, agentId: Id, workflowId: Short(128), source: DeploymentSource, now: Instant }),
  ]),
  getDeployment: z.tuple([Id, Id]),
  getDeploymentSource: z.tuple([Id, Id]),
  findDeploymentOwner: z.tuple([Id]),
  listDeployments: z.tuple([Id, Id, PageArgs]),
  transitionDeployment: z.tuple([
    z.object({
      ownerId: Id,
      deploymentId: Id,
      to: DeploymentStatus,
      now: Instant,
      step: DeployStep.optional(),
      artifactDigest: Short(128).optional(),
      providerRef: Short(256).optional(),
      error: z.object({ code: Short(64), message: z.string().max(4000) }).optional(),
      audit: AuditNoteRule.optional(),
    }),
  ]),
  recordDeploymentStep: z.tuple([
    z.object({ ownerId: Id, deploymentId: Id, entry: StepLogEntry, providerRef: Short(256).optional() }),
  ]),
  recordDeploymentBuild: z.tuple([
    z.object({
      ownerId: Id,
      deploymentId: Id,
      framework: Framework,
      commitSha: z
        .string()
        .regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'a full commit sha')
        .optional(),
    }),
  ]),
};
