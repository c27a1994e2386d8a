// The HubSpot accounts this worker may act for: one official client per account, its pacing, a cached
// contact-property schema, and every call routed through the one error classification. Tokens live
// here, read from the worker's configuration: never in workflow inputs or history.
import { Client } from '@hubspot/api-client';
import { ApplicationFailure } from '@temporalio/common';
import type { HubSpotPropertyDefinition } from '../action/mapping-validation';
import { classifyHubSpotError } from './errors';
import { Pacer } from './pacer';

export interface HubSpotAccountSettings {
  accountId: string;
  token: string;
  /** The private app that owns the token: contacts it creates carry it as hs_object_source_id. */
  appId: number;
  basePath?: string;
  rateLimitPerTenSeconds?: number;
  searchRateLimitPerSecond?: number;
}

export interface HubSpotAccountsOptions {
  /** How long a contact-property schema is trusted. Default 5 minutes. */
  propertySchemaTtlMs?: number;
  /** A single HTTP call is given up (and retried by Temporal) after this long. Default 15 s. */
  requestTimeoutMs?: number;
  /** Share of each configured rate limit this worker uses, leaving headroom. Default 0.9. */
  rateLimitShare?: number;
}

export class HubSpotCallTimeout extends Error {
  override name = 'HubSpotCallTimeout';
  code = 'ETIMEDOUT';
}

export class HubSpotAccount {
  readonly client: Client;
  private readonly pacer: Pacer;
  private schema?: { at: number; value: Promise<HubSpotPropertyDefinition[]> };

  constructor(readonly settings: HubSpotAccountSettings, private readonly options: Required<HubSpotAccountsOptions>) {
    // Retries belong to Temporal: the client makes exactly one attempt per call.
    this.client = new Client({ accessToken: settings.token, basePath: settings.basePath, numberOfApiCallRetries: 0 });
    const share = (n: number | undefined) => (n ? Math.max(1, Math.floor(n * options.rateLimitShare)) : undefined);
    this.pacer = new Pacer({ perTenSeconds: share(settings.rateLimitPerTenSeconds), searchPerSecond: share(settings.searchRateLimitPerSecond) });
  }

  get id(): string {
    return this.settings.accountId;
  }

  /** One paced, time-bounded HubSpot call; failures come out classified (ApplicationFailure). */
  async call<T>(operation: string, fn: (client: Client) => Promise<T>, kind: 'general' | 'search' = 'general'): Promise<T> {
    const done = await this.pacer.acquire(kind);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(this.client),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HubSpotCallTimeout(`no answer within ${this.options.requestTimeoutMs} ms`)), this.options.requestTimeoutMs);
        }),
      ]);
    } catch (err) {
      throw classifyHubSpotError(err, this.id, operation);
    } finally {
      clearTimeout(timer);
      done();
    }
  }

  /** The account's contact-property schema, cached for the configured time. */
  contactPropertySchema(now = Date.now()): Promise<HubSpotPropertyDefinition[]> {
    if (!this.schema || now - this.schema.at > this.options.propertySchemaTtlMs) {
      const value = this.call('properties.list', (c) => c.crm.properties.coreApi.getAll('contacts')).then(
        (r) => r.results as unknown as HubSpotPropertyDefinition[],
      );
      this.schema = { at: now, value };
      value.catch(() => {
        if (this.schema?.value === value) this.schema = undefined; // never cache a failure
      });
    }
    return this.schema.value;
  }
}

export class HubSpotAccounts {
  private readonly accounts = new Map<string, HubSpotAccount>();

  constructor(accounts: HubSpotAccountSettings[], options: HubSpotAccountsOptions = {}) {
    const full: Required<HubSpotAccountsOptions> = {
      propertySchemaTtlMs: options.propertySchemaTtlMs ?? 5 * 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
      rateLimitShare: options.rateLimitShare ?? 0.9,
    };
    for (const a of accounts) this.accounts.set(a.accountId, new HubSpotAccount(a, full));
  }

  /** The account, or a non-retryable failure naming it: an action config that names an account this worker does not have. */
  get(accountId: string): HubSpotAccount {
    const account = this.accounts.get(accountId);
    if (!account) {
      throw ApplicationFailure.nonRetryable(
        `HubSpot account ${accountId} is not configured on this worker (configured: ${[...this.accounts.keys()].join(', ') || 'none'})`,
        'UnknownHubSpotAccount',
      );
    }
    return account;
  }

  ids(): string[] {
    return [...this.accounts.keys()];
  }
}
