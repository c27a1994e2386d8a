// The account store's schema, as numbered migrations applied at start (table schema_migrations).
// Add a migration at the end; never edit one that has shipped.
import type { Database } from './db';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'connections, action configs, oauth states',
    statements: [
      `CREATE TABLE hubspot_connections (
        account_id text PRIMARY KEY,
        workspace_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('oauth', 'private-app', 'service-key')),
        portal_id bigint,
        app_id bigint NOT NULL,
        scopes jsonb NOT NULL DEFAULT '[]'::jsonb,
        status text NOT NULL CHECK (status IN ('connected', 'needs-reconnect', 'disconnected')),
        status_reason text,
        key_id text,
        refresh_token_enc text,
        access_token_enc text,
        access_issued_at timestamptz,
        access_expires_at timestamptz,
        token_version integer NOT NULL DEFAULT 0,
        refresh_lease_owner text,
        refresh_lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE INDEX hubspot_connections_workspace ON hubspot_connections (workspace_id)`,
      // One live OAuth connection per (workspace, portal, app): connecting again reconnects it.
      `CREATE UNIQUE INDEX hubspot_connections_live_portal ON hubspot_connections (workspace_id, portal_id, app_id)
         WHERE kind = 'oauth' AND status <> 'disconnected'`,
      `CREATE TABLE action_configs (
        workspace_id text NOT NULL,
        action_id text NOT NULL,
        config jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, action_id)
      )`,
      `CREATE TABLE oauth_states (
        state_id text PRIMARY KEY,
        workspace_id text NOT NULL,
        return_to text,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
    ],
  },
  {
    version: 2,
    name: 'install states bound to who started them; revocable page sessions',
    statements: [
      // page: completed only in the browser that started it (binding_hash: SHA-256 of its binding cookie);
      // platform: handed back to the platform, which completes it with its bearer token. code_verifier: PKCE.
      `ALTER TABLE oauth_states ADD COLUMN mode text NOT NULL DEFAULT 'page' CHECK (mode IN ('page', 'platform'))`,
      `ALTER TABLE oauth_states ADD COLUMN binding_hash text`,
      `ALTER TABLE oauth_states ADD COLUMN code_verifier text`,
      `CREATE TABLE page_sessions (
        session_id text PRIMARY KEY,
        workspace_id text NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE INDEX page_sessions_workspace ON page_sessions (workspace_id)`,
    ],
  },
  {
    version: 3,
    name: 'write rules learned from HubSpot refusals',
    statements: [
      // A portal's required-on-create and conditionally required properties: HubSpot's API publishes them
      // nowhere but in the 400 VALIDATION_ERROR refusing a write; remembered here for the config check.
      `CREATE TABLE learned_write_rules (
        account_id text NOT NULL,
        property text NOT NULL,
        rule text NOT NULL,
        write_kind text NOT NULL CHECK (write_kind IN ('create', 'update')),
        condition_properties jsonb NOT NULL DEFAULT '[]'::jsonb,
        learned_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, property, rule, write_kind)
      )`,
    ],
  },
  {
    version: 4,
    name: 'sync receipts',
    statements: [
      // One row per run of the action (its key: the Temporal run and activity), upserted by every attempt.
      // Ids, names, counts and times: never a property value, an email, a phone or a summary.
      `CREATE TABLE sync_receipts (
        receipt_id text PRIMARY KEY,
        workspace_id text NOT NULL,
        action_id text NOT NULL,
        conversation_id text NOT NULL,
        trigger text NOT NULL CHECK (trigger IN ('in-conversation', 'offline', 'follow-up', 'operator-retry', 'convergence-repair')),
        outcome text NOT NULL CHECK (outcome IN ('created', 'updated', 'note_only', 'skipped', 'failed')),
        reason text NOT NULL,
        account_id text NOT NULL,
        portal_id bigint,
        contact_id text,
        record_object text CHECK (record_object IN ('note', 'call', 'communication')),
        record_id text,
        properties_written jsonb NOT NULL DEFAULT '[]'::jsonb,
        properties_left jsonb NOT NULL DEFAULT '[]'::jsonb,
        hubspot_calls integer NOT NULL DEFAULT 0,
        attempts integer NOT NULL DEFAULT 1,
        finished boolean NOT NULL,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        workflow_id text,
        workflow_run_id text
      )`,
      // The API's filters, each newest first within a workspace; the retention sweep by age.
      `CREATE INDEX sync_receipts_workspace ON sync_receipts (workspace_id, started_at DESC, receipt_id DESC)`,
      `CREATE INDEX sync_receipts_action ON sync_receipts (workspace_id, action_id, started_at DESC, receipt_id DESC)`,
      `CREATE INDEX sync_receipts_conversation ON sync_receipts (workspace_id, conversation_id, started_at DESC, receipt_id DESC)`,
      `CREATE INDEX sync_receipts_outcome ON sync_receipts (workspace_id, outcome, started_at DESC, receipt_id DESC)`,
      `CREATE INDEX sync_receipts_age ON sync_receipts (started_at)`,
    ],
  },
];

/** Applies the migrations not applied yet, under a lock so that workers starting together do not race. */
export async function migrate(db: Database, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(7318407)`);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)),
    );
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      for (const sql of m.statements) await tx.query(sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
