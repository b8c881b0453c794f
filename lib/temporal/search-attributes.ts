import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes, so an operator finds a stuck workflow in Temporal UI by business key. */
export const AgentIdKey = defineSearchAttributeKey('AgentId', SearchAttributeType.KEYWORD);
export const OwnerIdKey = defineSearchAttributeKey('OwnerId', SearchAttributeType.KEYWORD);
export const DeploymentIdKey = defineSearchAttributeKey('DeploymentId', SearchAttributeType.KEYWORD);
export const WorkflowKindKey = defineSearchAttributeKey('WorkflowKind', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [AgentIdKey, OwnerIdKey, DeploymentIdKey, WorkflowKindKey] as const;
