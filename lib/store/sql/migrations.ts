/**
 * Schema migrations, applied in order at start inside one transaction each. Never edit a
 * migration that has shipped: add the next one. Same SQL on PGlite and PostgreSQL.
 */
export const migrations: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'users, agents, deployments, idempotency',
    sql: `
      create table users (
        id text primary key,
        tier text not null default 'free',
        default_runtime text not null default 'local',
        created_at timestamptz not null
      );

      create table agents (
        id text primary key,
        owner_id text not null references users(id),
        name text not null,
        runtime text not null,
        status text not null default 'active' check (status in ('active', 'deleted')),
        active_deployment_id text,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        deleted_at timestamptz
      );
      create unique index agents_by_owner_name on agents (owner_id, name) where status = 'active';
      create index agents_by_owner_id on agents (owner_id, id);

      create table deployments (
        id text primary key,
        agent_id text not null references agents(id),
        owner_id text not null references users(id),
        version integer not null,
        runtime text not null,
        status text not null check (status in ('queued', 'building', 'deploying', 'live', 'failed', 'canceled')),
        source_type text not null,
        source jsonb not null,
        artifact_digest text,
        provider_ref text,
        workflow_id text not null,
        steps jsonb not null default '[]'::jsonb,
        error jsonb,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        finished_at timestamptz,
        unique (agent_id, version)
      );
      -- At most one deploy of an agent in flight (architecture.md, Invariants): a second insert conflicts.
      create unique index deployments_one_in_flight on deployments (agent_id)
        where status in ('queued', 'building', 'deploying');
      create index deployments_by_owner_agent_version on deployments (owner_id, agent_id, version desc);

      alter table agents add constraint agents_active_deployment_fk
        foreign key (active_deployment_id) references deployments(id);

      create table idempotency_records (
        owner_id text not null,
        key text not null,
        request_hash text not null,
        status integer,
        body jsonb,
        created_at timestamptz not null,
        primary key (owner_id, key)
      );
    `,
  },
  {
    version: 2,
    name: 'full data model: billing ids, secret metadata, API keys, telemetry, metrics, usage, billing periods, webhooks, audit',
    sql: `
      alter table users
        add column billing_customer_id text,
        add column billing_subscription_id text,
        add column billing_subscription_item_id text,
        add column billing_status text,
        add constraint users_tier_check check (tier in ('free', 'starter', 'pro', 'enterprise'));
      create index users_by_tier on users (tier, id);

      -- A secret's name and version only. Values live in the runtime provider and nowhere
      -- here: there is deliberately no column that could hold one.
      create table secret_metadata (
        owner_id text not null references users(id),
        agent_id text not null references agents(id),
        name text not null,
        version integer not null,
        updated_at timestamptz not null,
        primary key (agent_id, name)
      );

      create table api_keys (
        id text primary key,
        owner_id text not null references users(id),
        name text not null,
        prefix text not null,
        hash text not null unique,
        created_at timestamptz not null,
        revoked_at timestamptz
      );
      create index api_keys_by_owner_created on api_keys (owner_id, created_at);

      -- Raw events, kept per the owner's tier. The id makes an event count once; it is
      -- unique per deployment, so no tenant's ids can collide with another's.
      create table telemetry_events (
        id text not null,
        owner_id text not null references users(id),
        agent_id text not null references agents(id),
        deployment_id text not null references deployments(id),
        runtime text not null,
        at timestamptz not null,
        kind text not null,
        ok boolean not null,
        duration_ms double precision not null,
        input_bytes bigint not null,
        output_bytes bigint not null,
        primary key (deployment_id, id)
      );
      create index telemetry_by_owner_agent_at on telemetry_events (owner_id, agent_id, at desc, id desc);
      create index telemetry_by_owner_at on telemetry_events (owner_id, at);

      create table hourly_metrics (
        owner_id text not null references users(id),
        agent_id text not null references agents(id),
        hour timestamptz not null,
        requests bigint not null,
        errors bigint not null,
        duration_ms double precision not null,
        input_bytes bigint not null,
        output_bytes bigint not null,
        primary key (agent_id, hour)
      );
      create index hourly_by_owner_hour on hourly_metrics (owner_id, hour);

      create table usage (
        owner_id text not null references users(id),
        period text not null,
        runtime text not null,
        requests bigint not null,
        errors bigint not null,
        duration_ms double precision not null,
        input_bytes bigint not null,
        output_bytes bigint not null,
        primary key (owner_id, period, runtime)
      );

      create table billing_periods (
        owner_id text not null references users(id),
        period text not null,
        status text not null check (status in ('open', 'closed')),
        requests bigint,
        errors bigint,
        duration_ms double precision,
        input_bytes bigint,
        output_bytes bigint,
        usage_report_id text,
        closed_at timestamptz,
        reported_at timestamptz,
        primary key (owner_id, period)
      );

      create table webhook_events (
        provider text not null,
        event_id text not null,
        event_name text not null,
        received_at timestamptz not null,
        primary key (provider, event_id)
      );

      create table audit_log (
        id text primary key,
        owner_id text not null,
        actor text not null,
        action text not null,
        target_type text not null,
        target_id text not null,
        details jsonb,
        at timestamptz not null
      );
      create index audit_by_owner_id on audit_log (owner_id, id desc);
    `,
  },
  {
    version: 3,
    name: 'rollback slot on agents; secret versions kept as tombstones',
    sql: `
      -- The rollback workflow holding the agent's one in-flight slot (a deploy holds it with its deployment row).
      alter table agents add column rollback_workflow_id text;
      -- A deleted secret keeps its row, so its version keeps growing when it is set again.
      alter table secret_metadata add column deleted_at timestamptz;
    `,
  },
  {
    version: 4,
    name: 'deployments record the detected framework and the commit a git source was built from',
    sql: `
      alter table deployments add column framework text, add column commit_sha text;
    `,
  },
  {
    version: 5,
    name: 'add-ons on users (AgentCore on pro)',
    sql: `
      alter table users add column add_ons jsonb not null default '[]';
    `,
  },
  {
    version: 6,
    name: 'API keys may be bound to one agent',
    sql: `
      -- Null: the key invokes any of its owner's agents.
      alter table api_keys add column agent_id text references agents(id);
    `,
  },
  {
    version: 7,
    name: 'metering: gateway requests and shim telemetry in one event table; tokens, compute and runtime in the aggregates; usage per end user; request counters',
    sql: `
      -- One row per event, whichever source: the gateway's requests (kind 'request', id = the
      -- request id) and the shim's 'invocation' and 'background' events.
      alter table telemetry_events
        add column status integer,
        add column compute_ms double precision not null default 0,
        add column input_tokens bigint not null default 0,
        add column output_tokens bigint not null default 0,
        add column session_id text,
        add column end_user text,
        add column api_key_id text;

      -- Hourly metrics per agent and runtime: a period's totals, by runtime, are their sum.
      alter table hourly_metrics
        add column runtime text,
        add column compute_ms double precision not null default 0,
        add column input_tokens bigint not null default 0,
        add column output_tokens bigint not null default 0;
      update hourly_metrics h set runtime = a.runtime from agents a where a.id = h.agent_id;
      alter table hourly_metrics alter column runtime set not null;
      alter table hourly_metrics drop constraint hourly_metrics_pkey;
      alter table hourly_metrics add primary key (agent_id, hour, runtime);

      alter table usage
        add column compute_ms double precision not null default 0,
        add column input_tokens bigint not null default 0,
        add column output_tokens bigint not null default 0;

      alter table billing_periods
        add column compute_ms double precision,
        add column input_tokens bigint,
        add column output_tokens bigint,
        add column cost_usd double precision;

      -- The caller's own end users (x-webhost-end-user), per period.
      create table end_user_usage (
        owner_id text not null references users(id),
        period text not null,
        end_user text not null,
        requests bigint not null,
        errors bigint not null,
        input_tokens bigint not null,
        output_tokens bigint not null,
        primary key (owner_id, period, end_user)
      );
      create index end_user_usage_by_requests on end_user_usage (owner_id, period, requests desc);

      -- What the gateways have leased of an owner's monthly request limit.
      create table request_counters (
        owner_id text not null references users(id),
        period text not null,
        leased bigint not null check (leased >= 0),
        primary key (owner_id, period)
      );
    `,
  },
  {
    version: 8,
    name: "paused agents (a downgrade pauses, never deletes); a failed payment's grace period on users",
    sql: `
      -- Set while the owner's tier no longer covers the agent; status stays 'active'.
      alter table agents add column paused_at timestamptz;
      -- When a failed payment's grace period ends, while one runs.
      alter table users add column billing_grace_ends_at timestamptz;
    `,
  },
  {
    version: 9,
    name: "log lines per agent (the shim's console.* lines), bounded per agent and by retention",
    sql: `
      -- An agent's next seq; its row is locked by each append, so an agent's appends commit in
      -- seq order and a tail that resumes after seq n misses nothing.
      create table log_counters (
        agent_id text primary key references agents(id),
        seq bigint not null
      );
      create table log_lines (
        agent_id text not null references agents(id),
        seq bigint not null,
        id text not null,
        owner_id text not null references users(id),
        deployment_id text not null,
        at timestamptz not null,
        level text not null,
        message text not null,
        request_id text,
        session_id text,
        -- Non-zero on the line that reports lines the shim dropped.
        dropped integer not null default 0,
        primary key (agent_id, seq),
        unique (deployment_id, id)
      );
      create index log_lines_by_owner_at on log_lines (owner_id, at);
    `,
  },
  {
    version: 10,
    name: 'outbound webhook endpoints and their deliveries (signing secrets are derived, never stored)',
    sql: `
      create table webhook_endpoints (
        id text primary key,
        owner_id text not null references users(id),
        url text not null,
        events text[] not null,
        description text,
        created_at timestamptz not null,
        -- Set while the owner has disabled it: no new deliveries.
        disabled_at timestamptz,
        -- Deleted endpoints keep their row for their deliveries' sake; they are never listed again.
        deleted_at timestamptz
      );
      create index webhook_endpoints_by_owner on webhook_endpoints (owner_id, id) where deleted_at is null;

      create table webhook_deliveries (
        id text primary key,
        owner_id text not null references users(id),
        endpoint_id text not null references webhook_endpoints(id),
        event_id text not null,
        event_type text not null,
        agent_id text not null,
        deployment_id text not null,
        -- The JSON body, sent as it is in every attempt.
        body text not null,
        status text not null check (status in ('pending', 'succeeded', 'failed')),
        attempts integer not null default 0,
        last_response_status integer,
        last_error text,
        created_at timestamptz not null,
        last_attempt_at timestamptz,
        finished_at timestamptz,
        -- An event is delivered to an endpoint once, however often it is recorded.
        unique (endpoint_id, event_id)
      );
      create index webhook_deliveries_by_endpoint on webhook_deliveries (endpoint_id, id desc);
      create index webhook_deliveries_by_event on webhook_deliveries (event_id);
    `,
  },
];
