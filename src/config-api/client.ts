// The platform backend's typed client for the configuration API (beside the conversation client in
// src/platform/client.ts). One instance per workspace; every call is scoped to it.
import type { ActionConfigInput } from '../action/config';
import type { Receipt } from '../action/receipt';
import type { PropertyListing } from './properties';

export interface ConnectionView {
  accountId: string;
  workspaceId: string;
  kind: 'oauth' | 'private-app' | 'service-key';
  portalId?: number;
  appId: number;
  scopes: string[];
  status: 'connected' | 'needs-reconnect';
  statusReason?: string;
  connectedAt: string;
  updatedAt: string;
}

export interface ConfigProblem {
  field: string;
  message: string;
}

/** The API refused a call: `code` is its error code (not_found, invalid_input, invalid_config, needs_reconnect, …), `field` the bad field. */
export class ConfigApiError extends Error {
  override name = 'ConfigApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly field?: string,
    readonly problems?: ConfigProblem[],
  ) {
    super(message);
  }
}

export interface ConfigApiClientOptions {
  /** e.g. http://127.0.0.1:8790 */
  baseUrl: string;
  /** CONFIG_API_TOKEN */
  token: string;
  workspaceId: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class ConfigApiClient {
  private readonly base: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: ConfigApiClientOptions) {
    this.base = `${options.baseUrl.replace(/\/+$/, '')}/v1/workspaces/${encodeURIComponent(options.workspaceId)}`;
    this.doFetch = options.fetch ?? fetch;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.doFetch(`${this.base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.options.token}`,
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      throw new ConfigApiError(
        typeof json.message === 'string' ? json.message : `HTTP ${res.status}`,
        res.status,
        typeof json.error === 'string' ? json.error : 'error',
        typeof json.field === 'string' ? json.field : undefined,
        Array.isArray(json.problems) ? (json.problems as ConfigProblem[]) : undefined,
      );
    }
    return json as T;
  }

  /**
   * Starts "Add account" for the platform: send the operator's browser to installUrl. HubSpot comes back
   * to the API's callback, which sends the browser on to returnTo (the platform's own page, an origin in
   * CONFIG_API_RETURN_ORIGINS) with ?code=…&state=… (or ?error=…). That page's backend then calls
   * completeConnection, for the workspace of the user logged into the platform (docs/ACCOUNTS.md).
   */
  startConnection(options: { returnTo: string }): Promise<{ installUrl: string; expiresAt: string }> {
    return this.call('POST', '/connections/oauth', options);
  }

  /** Completes an install this workspace started: the code and state HubSpot sent back. */
  completeConnection(answer: { code: string; state: string }): Promise<{ connection: ConnectionView }> {
    return this.call('POST', '/connections/oauth/complete', answer);
  }

  /** Ends every open setup-page session of the workspace (an operator left, a browser was lost). */
  revokeSessions(): Promise<{ workspaceId: string; revoked: number }> {
    return this.call('DELETE', '/sessions');
  }

  /** Connects a private-app token or a service key (kept encrypted; never returned). */
  addPrivateAppToken(input: {
    token: string;
    appId: number;
    portalId?: number;
    kind?: 'private-app' | 'service-key';
  }): Promise<{ connection: ConnectionView }> {
    return this.call('POST', '/connections/private-app', input);
  }

  async listConnections(): Promise<ConnectionView[]> {
    return (await this.call<{ connections: ConnectionView[] }>('GET', '/connections')).connections;
  }

  async connection(accountId: string): Promise<ConnectionView> {
    return (await this.call<{ connection: ConnectionView }>('GET', `/connections/${encodeURIComponent(accountId)}`))
      .connection;
  }

  /** Revokes the refresh token at HubSpot and marks the connection disconnected. */
  disconnect(accountId: string): Promise<{ accountId: string; status: 'disconnected'; refreshTokenRevoked: boolean }> {
    return this.call('DELETE', `/connections/${encodeURIComponent(accountId)}`);
  }

  /** The account's contact properties an operator may map, and the others with why they are not offered. */
  properties(accountId: string): Promise<{ accountId: string } & PropertyListing> {
    return this.call('GET', `/connections/${encodeURIComponent(accountId)}/properties`);
  }

  /** Checks an action config against its account's live schema; every bad row is named. */
  /** Problems make a config invalid; warnings say what the portal's write rules will refuse. */
  validateActionConfig(
    config: ActionConfigInput | unknown,
  ): Promise<{ valid: boolean; problems: ConfigProblem[]; warnings: string[] }> {
    return this.call('POST', '/action-configs/validate', { config });
  }

  /** Validates, then saves; refused (ConfigApiError code invalid_config, with problems) when invalid. */
  saveActionConfig(
    config: ActionConfigInput,
  ): Promise<{ actionId: string; config: unknown; savedAt: string; warnings: string[] }> {
    return this.call('PUT', `/action-configs/${encodeURIComponent(config.id)}`, { config });
  }

  actionConfig(actionId: string): Promise<{ actionId: string; config: unknown; savedAt: string }> {
    return this.call('GET', `/action-configs/${encodeURIComponent(actionId)}`);
  }

  /** The workspace's sync receipts, newest first; pass nextCursor back as `cursor` for the next page. */
  listReceipts(
    filter: {
      actionId?: string;
      outcome?: Receipt['outcome'];
      conversationId?: string;
      since?: string;
      until?: string;
      limit?: number;
      cursor?: string;
    } = {},
  ): Promise<{ receipts: Receipt[]; nextCursor?: string }> {
    const query = new URLSearchParams(
      Object.entries(filter)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    return this.call('GET', `/receipts${query ? `?${query}` : ''}`);
  }

  receipt(receiptId: string): Promise<Receipt> {
    return this.call('GET', `/receipts/${encodeURIComponent(receiptId)}`);
  }

  /** Runs a failed sync again (the operator retry); answers the new run's receipt. */
  retryReceipt(receiptId: string): Promise<{ receipt: Receipt }> {
    return this.call('POST', `/receipts/${encodeURIComponent(receiptId)}/retry`);
  }
}
