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
      -- At most one deploy of an agent in flight (DESIGN.md §4): a second insert conflicts.
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
];
