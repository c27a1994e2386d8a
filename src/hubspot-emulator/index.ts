// A local HubSpot emulator: a real HTTP server the official @hubspot/api-client talks to, unmodified,
// through `basePath`. See docs/HUBSPOT_EMULATOR.md.
import { EmulatorServer } from './server';
import { prng } from './store';
import type { EmulatorAccountSeed, FaultKind, FaultSpec, RequestRecord, StoredNote, StoredObject } from './store';

export type { EmulatorAccountSeed, FaultKind, FaultSpec, RequestRecord } from './store';

export const DEMO_ACCOUNT: EmulatorAccountSeed = {
  accountId: 'demo',
  token: 'demo-token',
  appId: 1000001,
  customProperties: [
    { name: 'favorite_product', label: 'Favorite product', type: 'string', fieldType: 'text' },
    { name: 'conversation_summary', label: 'Last conversation summary', type: 'string', fieldType: 'textarea' },
    { name: 'whatsapp_number', label: 'WhatsApp number', type: 'string', fieldType: 'phonenumber' },
    { name: 'seats', label: 'Seats', type: 'number', fieldType: 'number' },
    { name: 'renewal_date', label: 'Renewal date', type: 'date', fieldType: 'date' },
    { name: 'interests', label: 'Interests', type: 'enumeration', fieldType: 'checkbox', options: ['pricing', 'support', 'integrations'] },
    { name: 'crm_segment', label: 'Segment (set by a workflow)', type: 'string', fieldType: 'text', readOnlyValue: true },
    { name: 'lead_score_label', label: 'Lead score label', type: 'string', fieldType: 'text', calculated: true },
  ],
  contacts: [
    { properties: { email: 'maria.garcia@example.com', firstname: 'Maria', lastname: 'Garcia', phone: '+34 600 000 001', hs_additional_emails: 'maria@garcia-consulting.example' } },
    { properties: { email: 'li.wei@example.com', firstname: 'Li', lastname: 'Wei', company: 'Example Corp' } },
  ],
};

export interface HubSpotEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
  addAccount(seed: EmulatorAccountSeed): void;
  /** Adds a contact as a person in HubSpot's UI would (record source CRM_UI, no app): "not ours" for any app. Returns its id. */
  addContact(accountId: string, properties: Record<string, string>): string;
  setFaults(accountId: string, faults: FaultSpec | null, seed?: number): void;
  failNext(accountId: string, operation: string, kind: FaultKind, count?: number): void;
  contacts(accountId: string): StoredObject[];
  notes(accountId: string): StoredNote[];
  requests(accountId?: string): RequestRecord[];
  requestCounts(accountId?: string): Record<string, number>;
  /** Faults injected (and real rate-limit refusals) by kind, since the last reset. */
  faultCounts(accountId: string): Record<string, number>;
  reset(): void;
}

export async function startHubSpotEmulator(
  opts: { port?: number; host?: string; accounts?: EmulatorAccountSeed[]; seed?: number; log?: (line: string) => void } = {},
): Promise<HubSpotEmulator> {
  const server = new EmulatorServer({ ...opts, accounts: opts.accounts ?? [DEMO_ACCOUNT] });
  await server.listen();
  const copy = <T>(o: T): T => structuredClone(o);
  return {
    url: server.url,
    port: server.port,
    close: () => server.close(),
    addAccount: (seed) => void server.addAccount(seed),
    addContact: (accountId, properties) => server.account(accountId).addPersonContact(properties).id,
    setFaults: (accountId, faults, seed) => {
      const a = server.account(accountId);
      a.faults = faults;
      if (seed !== undefined) a.random = prng(seed);
    },
    failNext: (accountId, operation, kind, count = 1) => {
      const a = server.account(accountId);
      const q = a.failNext.get(operation) ?? [];
      for (let i = 0; i < count; i++) q.push(kind);
      a.failNext.set(operation, q);
    },
    contacts: (accountId) => [...server.account(accountId).contacts.values()].map(copy),
    notes: (accountId) => [...server.account(accountId).notes.values()].map(copy),
    requests: (accountId) => server.requests(accountId),
    requestCounts: (accountId) => server.requestCounts(accountId),
    faultCounts: (accountId) => ({ ...server.account(accountId).faultCounts }),
    reset: () => server.resetAccounts(),
  };
}
