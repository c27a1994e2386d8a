// What the configuration API's plugins share: the account store, the OAuth app, the callers'
// credentials, the portal reads, and the settings they act under. Built once by server.ts.
import type { Client } from '@temporalio/client';
import type { HubSpotOAuthClient } from '../account-store/oauth-client';
import type { AccountStore } from '../account-store/store';
import type { HubSpotPropertyDefinition, LearnedRequirement, PropertyRule } from '../action/mapping-validation';
import type { Auth, LoginThrottle } from './auth';

/** What the API reads of a connected portal. */
export interface PortalReads {
  /** The account's contact-property schema. */
  schema(accountId: string): Promise<HubSpotPropertyDefinition[]>;
  /** The portal's property validation rules (API version 2026-09). */
  validationRules(accountId: string): Promise<Record<string, PropertyRule[]>>;
  /** The portal's write rules learned from HubSpot's refusals. */
  learnedRules(accountId: string): Promise<LearnedRequirement[]>;
}

/** Single-use links that log a browser into the page (development: printed at start). */
export class LoginLinks {
  private readonly codes = new Map<string, { workspaceId: string; expiresAt: number }>();

  add(code: string, workspaceId: string, ttlMs: number): void {
    this.codes.set(code, { workspaceId, expiresAt: Date.now() + ttlMs });
  }

  /** The workspace a code logs into, once; undefined when unknown, used or expired. */
  take(code: string): string | undefined {
    const entry = this.codes.get(code);
    this.codes.delete(code);
    return entry && entry.expiresAt >= Date.now() ? entry.workspaceId : undefined;
  }
}

export interface ConfigApiContext {
  store: AccountStore;
  /** The OAuth app: without it, "Add account" is not offered. */
  oauth?: HubSpotOAuthClient;
  auth: Auth;
  portal: PortalReads;
  /** How long an install (OAuth state) may take. */
  stateTtlMs: number;
  /** Origins the OAuth callback may send the browser back to, besides this service itself. */
  allowedReturnOrigins: readonly string[];
  loginThrottle: LoginThrottle;
  loginLinks: LoginLinks;
  /** The Temporal client operator retries go through (connected on first use); absent: retries answer 503. */
  operatorClient?: () => Promise<Client>;
}
