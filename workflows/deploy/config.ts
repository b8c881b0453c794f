/** Task queue the deploy and rollback workflows and their activities run on. */
export const DEPLOY_TASK_QUEUE = 'webhost-deploy';

/** The workflow id is the business key: one deploy workflow per deployment. */
export const deployWorkflowId = (deploymentId: string) => `deploy-${deploymentId}`;

export const DEPLOY_WORKFLOW_KIND = 'deploy';

/** How hard the health check tries before the deploy gives up; input can shorten it for tests. */
export const DEFAULT_HEALTH_CHECK = { attempts: 5, initialIntervalMs: 1000 } as const;

/** The queue builds run on, beside a deploy queue: its workers take only as many builds as the machine allows. */
export const buildTaskQueueFor = (taskQueue: string) => `${taskQueue}-build`;

/** Patch id: builds moved to their own task queue (deployments started before it build on the deploy queue). */
export const BUILD_QUEUE_PATCH = 'builds-on-build-queue';

/** Patch id: the deploy's store calls run as local activities (deployments started before it call them as activities). */
export const LOCAL_STORE_PATCH = 'store-calls-local';
