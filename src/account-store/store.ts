// The account store: HubSpot connections (per workspace), their tokens encrypted at rest, the action
// configs saved through the configuration API, the OAuth install states, and the portals' write rules
// learned from HubSpot's refusals (for the configuration check). Plain SQL that runs the
// same on PostgreSQL and on the embedded PGlite. Nothing here returns a token except the two methods
// whose names say so.
import { randomBytes } from 'node:crypto';
import type { CredentialKind, LearnedRefusal } from '../hubspot/directory';
import { openDatabase, type Database, type DatabaseOptions } from './db';
import { migrate } from './migrations';
import { ReceiptStore } from './receipts';
import { TokenCipher, type TokenKeys } from './token-cipher';

export type ConnectionStatus = 'connected' | 'needs-reconnect' | 'disconnected';

/** A connection as listed: no secret in it. */
export interface StoredConnection {
  accountId: string;
  workspaceId: string;
  kind: CredentialKind;
  portalId?: number;
  appId: number;
  scopes: string[];
  status: ConnectionStatus;
  statusReason?: string;
  createdAt: string;
  updatedAt: string;
}

/** The token side of one connection, decrypted: only the directory reads this. */
export interface ConnectionTokens {
  accountId: string;
  status: ConnectionStatus;
  kind: CredentialKind;
  refreshToken?: string;
  accessToken?: string;
  /** epoch ms; undefined: does not expire (private-app and service-key tokens) */
  accessExpiresAt?: number;
  /** epoch ms: when the access token was issued (its lifetime is accessExpiresAt - accessIssuedAt) */
  accessIssuedAt?: number;
  version: number;
  keyId?: string;
  leaseUntil?: number;
}

export interface NewOAuthConnection {
  workspaceId: string;
  portalId: number;
  appId: number;
  scopes: string[];
  refreshToken: string;
  accessToken: string;
  accessExpiresAt: number;
}

export interface NewStaticConnection {
  workspaceId: string;
  accountId?: string;
  kind: 'private-app' | 'service-key';
  portalId?: number;
  appId: number;
  scopes?: string[];
  token: string;
}

/** A property a portal's rule required, as learned from HubSpot refusing a write without it. */
export interface LearnedWriteRule {
  property: string;
  /** HubSpot's code for the rule (e.g. REQUIRED_PROPERTY). */
  rule: string;
  /** The write HubSpot refused. */
  write: 'create' | 'update';
  /** For a conditional rule: the properties whose value set the requirement off. */
  condition: string[];
  /** When HubSpot last refused a write by it (ISO). */
  learnedAt: string;
}

/** At most this many learned rules are kept per account (the newest). */
const MAX_LEARNED_RULES = 200;

type Row = Record<string, unknown>;

const CONNECTION_COLUMNS =
  'account_id, workspace_id, kind, portal_id, app_id, scopes, status, status_reason, created_at, updated_at';

function toConnection(r: Row): StoredConnection {
  return {
    accountId: String(r.account_id),
    workspaceId: String(r.workspace_id),
    kind: r.kind as CredentialKind,
    ...(r.portal_id === null || r.portal_id === undefined ? {} : { portalId: Number(r.portal_id) }),
    appId: Number(r.app_id),
    scopes: (typeof r.scopes === 'string' ? JSON.parse(r.scopes) : r.scopes) as string[],
    status: r.status as ConnectionStatus,
    ...(r.status_reason ? { statusReason: String(r.status_reason) } : {}),
    createdAt: new Date(r.created_at as string).toISOString(),
    updatedAt: new Date(r.updated_at as string).toISOString(),
  };
}

const ms = (v: unknown) => (v === null || v === undefined ? undefined : new Date(v as string).getTime());

export interface AccountStoreOptions extends DatabaseOptions {
  keys: TokenKeys;
}

export class AccountStore {
  private readonly cipher: TokenCipher;
  /** The sync receipts kept in the same database (receipts.ts). */
  readonly receipts: ReceiptStore;

  private constructor(
    readonly db: Database,
    keys: TokenKeys,
  ) {
    this.cipher = new TokenCipher(keys);
    this.receipts = new ReceiptStore(db);
  }

  /** Opens the database and applies pending migrations. */
  static async open(options: AccountStoreOptions): Promise<AccountStore> {
    const db = await openDatabase(options);
    try {
      await migrate(db);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return new AccountStore(db, options.keys);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  get activeKeyId(): string {
    return this.cipher.activeKeyId;
  }

  private seal(accountId: string, column: 'refresh' | 'access', value: string | undefined): string | null {
    return value === undefined ? null : this.cipher.encrypt(value, `${accountId}:${column}`);
  }

  // ---- connections ----

  async listConnections(workspaceId: string): Promise<StoredConnection[]> {
    const r = await this.db.query(
      `SELECT ${CONNECTION_COLUMNS} FROM hubspot_connections WHERE workspace_id = $1 AND status <> 'disconnected' ORDER BY created_at, account_id`,
      [workspaceId],
    );
    return r.rows.map(toConnection);
  }

  /** Any workspace's connection by id (the worker's view); disconnected ones included. */
  async connection(accountId: string): Promise<StoredConnection | undefined> {
    const r = await this.db.query(`SELECT ${CONNECTION_COLUMNS} FROM hubspot_connections WHERE account_id = $1`, [
      accountId,
    ]);
    return r.rows[0] ? toConnection(r.rows[0]) : undefined;
  }

  /** The workspace's live connection, or undefined (another workspace's is undefined too). */
  async workspaceConnection(workspaceId: string, accountId: string): Promise<StoredConnection | undefined> {
    const c = await this.connection(accountId);
    return c && c.workspaceId === workspaceId && c.status !== 'disconnected' ? c : undefined;
  }

  async liveAccountIds(): Promise<string[]> {
    const r = await this.db.query<{ account_id: string }>(
      `SELECT account_id FROM hubspot_connections WHERE status <> 'disconnected' ORDER BY account_id`,
    );
    return r.rows.map((x) => x.account_id);
  }

  /**
   * Stores an OAuth connection. The same portal and app connected again by the same workspace is the
   * same connection (reconnected: new tokens, status connected); by another workspace, another one.
   */
  async saveOAuthConnection(c: NewOAuthConnection): Promise<StoredConnection> {
    return this.db.transaction(async (tx) => {
      const existing = await tx.query<{ account_id: string }>(
        `SELECT account_id FROM hubspot_connections WHERE workspace_id = $1 AND portal_id = $2 AND app_id = $3 AND kind = 'oauth' AND status <> 'disconnected' FOR UPDATE`,
        [c.workspaceId, c.portalId, c.appId],
      );
      const accountId = existing.rows[0]?.account_id ?? `hubspot-${c.portalId}-${randomBytes(4).toString('hex')}`;
      const values = [
        accountId,
        JSON.stringify(c.scopes),
        this.cipher.activeKeyId,
        this.seal(accountId, 'refresh', c.refreshToken),
        this.seal(accountId, 'access', c.accessToken),
        new Date(c.accessExpiresAt),
      ];
      const r = existing.rows[0]
        ? await tx.query(
            `UPDATE hubspot_connections SET scopes = $2::jsonb, status = 'connected', status_reason = NULL, key_id = $3, refresh_token_enc = $4,
               access_token_enc = $5, access_expires_at = $6, access_issued_at = now(), token_version = token_version + 1, refresh_lease_owner = NULL,
               refresh_lease_until = NULL, updated_at = now() WHERE account_id = $1 RETURNING ${CONNECTION_COLUMNS}`,
            values,
          )
        : await tx.query(
            `INSERT INTO hubspot_connections (account_id, workspace_id, kind, portal_id, app_id, scopes, status, key_id, refresh_token_enc, access_token_enc, access_expires_at, access_issued_at)
             VALUES ($1, $7, 'oauth', $8, $9, $2::jsonb, 'connected', $3, $4, $5, $6, now()) RETURNING ${CONNECTION_COLUMNS}`,
            [...values, c.workspaceId, c.portalId, c.appId],
          );
      return toConnection(r.rows[0]!);
    });
  }

  /** Stores a private-app token or service key (no refresh: the token itself is kept, encrypted). */
  async saveStaticConnection(c: NewStaticConnection): Promise<StoredConnection> {
    const accountId = c.accountId ?? `hubspot-${c.portalId ?? c.appId}-${randomBytes(4).toString('hex')}`;
    const r = await this.db.query(
      `INSERT INTO hubspot_connections (account_id, workspace_id, kind, portal_id, app_id, scopes, status, key_id, access_token_enc)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, 'connected', $7, $8) RETURNING ${CONNECTION_COLUMNS}`,
      [
        accountId,
        c.workspaceId,
        c.kind,
        c.portalId ?? null,
        c.appId,
        JSON.stringify(c.scopes ?? []),
        this.cipher.activeKeyId,
        this.seal(accountId, 'access', c.token),
      ],
    );
    return toConnection(r.rows[0]!);
  }

  /** Decrypted tokens of a connection (the directory's use only). */
  async tokens(accountId: string): Promise<ConnectionTokens | undefined> {
    const r = await this.db.query(
      `SELECT account_id, status, kind, key_id, refresh_token_enc, access_token_enc, access_expires_at, access_issued_at, token_version, refresh_lease_until
       FROM hubspot_connections WHERE account_id = $1`,
      [accountId],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const keyId = row.key_id ? String(row.key_id) : undefined;
    const open = (column: 'refresh' | 'access', v: unknown) =>
      v && keyId ? this.cipher.decrypt(String(v), keyId, `${accountId}:${column}`) : undefined;
    return {
      accountId,
      status: row.status as ConnectionStatus,
      kind: row.kind as CredentialKind,
      refreshToken: open('refresh', row.refresh_token_enc),
      accessToken: open('access', row.access_token_enc),
      accessExpiresAt: ms(row.access_expires_at),
      accessIssuedAt: ms(row.access_issued_at),
      version: Number(row.token_version),
      keyId,
      leaseUntil: ms(row.refresh_lease_until),
    };
  }

  /**
   * Takes the right to refresh this connection's access token: only when the stored token is still
   * the one the caller saw (token_version) and no other worker holds an unexpired lease.
   */
  async claimRefresh(
    accountId: string,
    version: number,
    owner: string,
    leaseMs: number,
    now = Date.now(),
  ): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE hubspot_connections SET refresh_lease_owner = $3, refresh_lease_until = $4
       WHERE account_id = $1 AND token_version = $2 AND status = 'connected' AND (refresh_lease_until IS NULL OR refresh_lease_until < $5)
       RETURNING account_id`,
      [accountId, version, owner, new Date(now + leaseMs), new Date(now)],
    );
    return r.rowCount === 1;
  }

  /** Stores a refreshed access token (and the refresh token, re-encrypted with the active key); releases the lease. */
  async completeRefresh(
    accountId: string,
    owner: string,
    t: { accessToken: string; accessExpiresAt: number; accessIssuedAt: number; refreshToken: string },
  ): Promise<number | undefined> {
    const r = await this.db.query<{ token_version: number }>(
      `UPDATE hubspot_connections SET access_token_enc = $3, access_expires_at = $4, refresh_token_enc = $5, key_id = $6, access_issued_at = $7,
         token_version = token_version + 1, refresh_lease_owner = NULL, refresh_lease_until = NULL, updated_at = now()
       WHERE account_id = $1 AND refresh_lease_owner = $2 AND status = 'connected' RETURNING token_version`,
      [
        accountId,
        owner,
        this.seal(accountId, 'access', t.accessToken),
        new Date(t.accessExpiresAt),
        this.seal(accountId, 'refresh', t.refreshToken),
        this.cipher.activeKeyId,
        new Date(t.accessIssuedAt),
      ],
    );
    return r.rows[0] ? Number(r.rows[0].token_version) : undefined;
  }

  async releaseRefresh(accountId: string, owner: string): Promise<void> {
    await this.db.query(
      `UPDATE hubspot_connections SET refresh_lease_owner = NULL, refresh_lease_until = NULL WHERE account_id = $1 AND refresh_lease_owner = $2`,
      [accountId, owner],
    );
  }

  /** HubSpot refused the refresh token: an operator must reconnect the account. */
  async markNeedsReconnect(accountId: string, reason: string): Promise<void> {
    await this.db.query(
      `UPDATE hubspot_connections SET status = 'needs-reconnect', status_reason = $2, access_token_enc = NULL, access_expires_at = NULL,
         token_version = token_version + 1, refresh_lease_owner = NULL, refresh_lease_until = NULL, updated_at = now()
       WHERE account_id = $1 AND status = 'connected'`,
      [accountId, reason],
    );
  }

  /** HubSpot said this access token expired: mark it so, if it is still the stored one. */
  async expireAccessToken(accountId: string, version: number): Promise<void> {
    await this.db.query(
      `UPDATE hubspot_connections SET access_expires_at = $3 WHERE account_id = $1 AND token_version = $2 AND kind = 'oauth'`,
      [accountId, version, new Date(0)],
    );
  }

  /** Marks the connection disconnected and forgets its tokens; returns the refresh token so the caller can revoke it. */
  async disconnect(workspaceId: string, accountId: string): Promise<{ refreshToken?: string } | undefined> {
    const tokens = await this.tokens(accountId).catch(() => undefined);
    const r = await this.db.query(
      `UPDATE hubspot_connections SET status = 'disconnected', status_reason = 'disconnected by an operator', refresh_token_enc = NULL,
         access_token_enc = NULL, access_expires_at = NULL, token_version = token_version + 1, updated_at = now()
       WHERE account_id = $1 AND workspace_id = $2 AND status <> 'disconnected' RETURNING account_id`,
      [accountId, workspaceId],
    );
    if (r.rowCount !== 1) return undefined;
    return { refreshToken: tokens?.refreshToken };
  }

  /**
   * Re-encrypts every stored token still under an older key with the active key (key rotation);
   * returns how many connections were rewritten. Safe beside running workers: a row whose tokens
   * changed meanwhile (token_version) is left for the next run.
   */
  async reencryptTokens(): Promise<number> {
    const r = await this.db.query<{ account_id: string }>(
      `SELECT account_id FROM hubspot_connections WHERE key_id IS NOT NULL AND key_id <> $1`,
      [this.cipher.activeKeyId],
    );
    let rewritten = 0;
    for (const { account_id: id } of r.rows) {
      const t = await this.tokens(id);
      if (!t) continue;
      const u = await this.db.query(
        `UPDATE hubspot_connections SET refresh_token_enc = $3, access_token_enc = $4, key_id = $5 WHERE account_id = $1 AND token_version = $2`,
        [
          id,
          t.version,
          this.seal(id, 'refresh', t.refreshToken),
          this.seal(id, 'access', t.accessToken),
          this.cipher.activeKeyId,
        ],
      );
      rewritten += u.rowCount;
    }
    return rewritten;
  }

  // ---- saved action configs ----

  async saveActionConfig(workspaceId: string, actionId: string, config: unknown): Promise<void> {
    await this.db.query(
      `INSERT INTO action_configs (workspace_id, action_id, config) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (workspace_id, action_id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()`,
      [workspaceId, actionId, JSON.stringify(config)],
    );
  }

  async actionConfig(
    workspaceId: string,
    actionId: string,
  ): Promise<{ config: unknown; updatedAt: string } | undefined> {
    const r = await this.db.query(
      `SELECT config, updated_at FROM action_configs WHERE workspace_id = $1 AND action_id = $2`,
      [workspaceId, actionId],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    return {
      config: typeof row.config === 'string' ? JSON.parse(row.config) : row.config,
      updatedAt: new Date(row.updated_at as string).toISOString(),
    };
  }

  // ---- write rules learned from HubSpot's refusals ----

  /** Remembers the properties HubSpot's refusals named as missing (one row per property, rule and write). */
  async rememberRefusals(accountId: string, refusals: LearnedRefusal[]): Promise<void> {
    for (const r of refusals) {
      for (const property of r.missing.slice(0, 20)) {
        await this.db.query(
          `INSERT INTO learned_write_rules (account_id, property, rule, write_kind, condition_properties) VALUES ($1, $2, $3, $4, $5::jsonb)
           ON CONFLICT (account_id, property, rule, write_kind) DO UPDATE SET condition_properties = EXCLUDED.condition_properties, learned_at = now()`,
          [accountId, property, r.rule, r.write, JSON.stringify(r.condition.slice(0, 20))],
        );
      }
    }
    await this.db.query(
      `DELETE FROM learned_write_rules WHERE account_id = $1 AND (property, rule, write_kind) NOT IN
         (SELECT property, rule, write_kind FROM learned_write_rules WHERE account_id = $1 ORDER BY learned_at DESC LIMIT ${MAX_LEARNED_RULES})`,
      [accountId],
    );
  }

  /** The write rules learned for an account, newest first. */
  async learnedWriteRules(accountId: string): Promise<LearnedWriteRule[]> {
    const r = await this.db.query(
      `SELECT property, rule, write_kind, condition_properties, learned_at FROM learned_write_rules WHERE account_id = $1 ORDER BY learned_at DESC, property`,
      [accountId],
    );
    return r.rows.map((row) => ({
      property: String(row.property),
      rule: String(row.rule),
      write: row.write_kind === 'update' ? 'update' : 'create',
      condition: (typeof row.condition_properties === 'string'
        ? JSON.parse(row.condition_properties)
        : row.condition_properties) as string[],
      learnedAt: new Date(row.learned_at as string).toISOString(),
    }));
  }

  // ---- OAuth install states (single use, expiring) ----

  async createOAuthState(stateId: string, state: NewOAuthState): Promise<void> {
    await this.db.query(`DELETE FROM oauth_states WHERE expires_at < $1`, [new Date(Date.now() - 24 * 3600_000)]);
    await this.db.query(
      `INSERT INTO oauth_states (state_id, workspace_id, return_to, expires_at, mode, binding_hash, code_verifier) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        stateId,
        state.workspaceId,
        state.returnTo ?? null,
        new Date(state.expiresAt),
        state.mode,
        state.bindingHash ?? null,
        state.codeVerifier ?? null,
      ],
    );
  }

  /** A state still usable (known, not expired, not used), without using it: its signature is checked first. */
  async peekOAuthState(stateId: string, now = Date.now()): Promise<OAuthState | undefined> {
    const r = await this.db.query(
      `SELECT * FROM oauth_states WHERE state_id = $1 AND used_at IS NULL AND expires_at > $2`,
      [stateId, new Date(now)],
    );
    return r.rows[0] ? oauthStateOf(r.rows[0]) : undefined;
  }

  /** Uses the state once: undefined when unknown, expired or already used. */
  async consumeOAuthState(stateId: string, now = Date.now()): Promise<OAuthState | undefined> {
    const r = await this.db.query(
      `UPDATE oauth_states SET used_at = $2 WHERE state_id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING *`,
      [stateId, new Date(now)],
    );
    return r.rows[0] ? oauthStateOf(r.rows[0]) : undefined;
  }

  // ---- the operators' page sessions (revocable before they expire) ----

  async createPageSession(sessionId: string, workspaceId: string, expiresAt: number): Promise<void> {
    await this.db.query(`DELETE FROM page_sessions WHERE expires_at < $1`, [new Date(Date.now() - 24 * 3600_000)]);
    await this.db.query(`INSERT INTO page_sessions (session_id, workspace_id, expires_at) VALUES ($1, $2, $3)`, [
      sessionId,
      workspaceId,
      new Date(expiresAt),
    ]);
  }

  /** The workspace of a session still valid (not expired, not revoked). */
  async pageSession(sessionId: string, now = Date.now()): Promise<string | undefined> {
    const r = await this.db.query(
      `SELECT workspace_id FROM page_sessions WHERE session_id = $1 AND revoked_at IS NULL AND expires_at > $2`,
      [sessionId, new Date(now)],
    );
    return r.rows[0] ? String(r.rows[0].workspace_id) : undefined;
  }

  async revokePageSession(sessionId: string): Promise<void> {
    await this.db.query(`UPDATE page_sessions SET revoked_at = now() WHERE session_id = $1 AND revoked_at IS NULL`, [
      sessionId,
    ]);
  }

  /** Ends every session of a workspace (an operator left, a browser was lost): how many were open. */
  async revokeWorkspaceSessions(workspaceId: string, now = Date.now()): Promise<number> {
    const r = await this.db.query(
      `UPDATE page_sessions SET revoked_at = now() WHERE workspace_id = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING session_id`,
      [workspaceId, new Date(now)],
    );
    return r.rows.length;
  }
}

/** How an install was started: in the setup page (completed in the same browser) or by the platform's backend. */
export type InstallMode = 'page' | 'platform';

export interface NewOAuthState {
  workspaceId: string;
  returnTo?: string;
  expiresAt: number;
  mode: InstallMode;
  /** page: SHA-256 (base64url) of the binding cookie set in the browser that started the install. */
  bindingHash?: string;
  /** PKCE: the verifier whose S256 challenge the install URL carries. */
  codeVerifier?: string;
}

export interface OAuthState {
  workspaceId: string;
  returnTo?: string;
  mode: InstallMode;
  bindingHash?: string;
  codeVerifier?: string;
}

function oauthStateOf(row: Record<string, unknown>): OAuthState {
  return {
    workspaceId: String(row.workspace_id),
    ...(row.return_to ? { returnTo: String(row.return_to) } : {}),
    mode: row.mode === 'platform' ? 'platform' : 'page',
    ...(row.binding_hash ? { bindingHash: String(row.binding_hash) } : {}),
    ...(row.code_verifier ? { codeVerifier: String(row.code_verifier) } : {}),
  };
}
