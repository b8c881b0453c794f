import { z } from 'zod';
import {
  AgentName,
  Id,
  Runtime,
  type Agent,
  type CreateAgentBody,
  type Deployment,
  type Page,
  type PageQuery,
} from '../../contracts/index.js';
import { AuditNoteRule, type AuditNote } from './audit.js';
import { Instant, PageArgs, Short, type Rules } from './rules.js';

/** Agents, and the pointer that says which deployment serves each one. */
export interface AgentStore {
  createAgent(input: CreateAgentInput): Promise<Agent>;
  getAgent(ownerId: string, agentId: string): Promise<Agent>;
  /** The owner's agent, active or deleted (a repeated delete, a teardown); unknown or another's is `not_found`. */
  findAgent(ownerId: string, agentId: string): Promise<Agent>;
  listAgents(ownerId: string, page: PageQuery): Promise<Page<Agent>>;
  renameAgent(input: RenameAgentInput): Promise<Agent>;
  /** Moves the agent to another runtime from its next deploy on; what serves now keeps serving. */
  setAgentRuntime(input: SetRuntimeInput): Promise<Agent>;
  /**
   * Takes the agent's one in-flight slot for a rollback: `conflict` while a deployment is in
   * flight or another rollback holds it; the same workflow taking it again is success.
   */
  beginRollback(input: RollbackSlotInput): Promise<Agent>;
  /** Frees the slot if this workflow holds it (also for a deleted agent); otherwise does nothing. */
  endRollback(input: RollbackSlotInput): Promise<void>;
  /** Soft delete: history stays; refused while a deployment is in flight. */
  deleteAgent(input: AgentRef & Audited): Promise<Agent>;
  /**
   * Undoes `deleteAgent` (its delete could not be carried out): the agent is active again,
   * serving what it served. `conflict` if another agent took its name meanwhile.
   */
  restoreAgent(input: AgentRef & Audited): Promise<Agent>;
  /** Compare-and-set of the serving pointer; true when this call made the switch. */
  switchActiveDeployment(input: SwitchActiveInput): Promise<boolean>;
  /** Hot path of the gateway: the agent and the deployment that serves it, in one read. */
  getServingTarget(ownerId: string, agentId: string): Promise<ServingTarget>;
}

export interface AgentRef {
  ownerId: string;
  agentId: string;
}

/** A change at `now`, with the audit entry written in its transaction when there is one (and only if it happens). */
export interface Audited {
  now: Date;
  audit?: AuditNote;
}

export type CreateAgentInput = Audited & {
  id: string;
  ownerId: string;
  /**
   * The most active agents the owner may have (its tier's); past it the create is refused with
   * `entitlement_required`, checked in the same transaction as the insert. Absent: no limit.
   */
  maxAgents?: number;
} & CreateAgentBody;

export interface RenameAgentInput extends AgentRef, Audited {
  name: string;
}

export interface SetRuntimeInput extends AgentRef, Audited {
  runtime: Agent['runtime'];
}

export interface RollbackSlotInput extends AgentRef {
  workflowId: string;
  now: Date;
}

export interface SwitchActiveInput extends AgentRef {
  expected: string | null;
  next: string | null;
  now: Date;
  /** Written with the switch, if it happens. */
  audit?: AuditNote;
}

export interface ServingTarget {
  agent: Agent;
  deployment: { id: string; runtime: Deployment['runtime']; providerRef: string } | null;
}

export const agentRules: Rules<AgentStore> = {
  createAgent: z.tuple([
    z.object({
      id: Id,
      ownerId: Id,
      name: AgentName,
      runtime: Runtime,
      now: Instant,
      maxAgents: z.number().int().min(0).optional(),
      audit: AuditNoteRule.optional(),
    }),
  ]),
  getAgent: z.tuple([Id, Id]),
  findAgent: z.tuple([Id, Id]),
  setAgentRuntime: z.tuple([
    z.object({ ownerId: Id, agentId: Id, runtime: Runtime, now: Instant, audit: AuditNoteRule.optional() }),
  ]),
  beginRollback: z.tuple([z.object({ ownerId: Id, agentId: Id, workflowId: Short(200), now: Instant })]),
  endRollback: z.tuple([z.object({ ownerId: Id, agentId: Id, workflowId: Short(200), now: Instant })]),
  listAgents: z.tuple([Id, PageArgs]),
  renameAgent: z.tuple([
    z.object({ ownerId: Id, agentId: Id, name: AgentName, now: Instant, audit: AuditNoteRule.optional() }),
  ]),
  deleteAgent: z.tuple([z.object({ ownerId: Id, agentId: Id, now: Instant, audit: AuditNoteRule.optional() })]),
  restoreAgent: z.tuple([z.object({ ownerId: Id, agentId: Id, now: Instant, audit: AuditNoteRule.optional() })]),
  switchActiveDeployment: z.tuple([
    z.object({
      ownerId: Id,
      agentId: Id,
      expected: Id.nullable(),
      next: Id.nullable(),
      now: Instant,
      audit: AuditNoteRule.optional(),
    }),
  ]),
  getServingTarget: z.tuple([Id, Id]),
};
