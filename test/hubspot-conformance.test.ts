// The emulator's answers held to HubSpot's published specifications: every answer the product and the
// emulator rely on (success and error bodies, on the 2026-09 CRM paths and the 2026-03 OAuth token API)
// is fetched over real HTTP, through the official client's request method or a plain form POST, and
// checked against the project's own schemas of those specs (src/hubspot/spec-shapes.ts,
// src/account-store/oauth-shapes.ts). The last test reports how many answers were checked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@hubspot/api-client';
import type { z } from 'zod';
import { PROPERTY_RULE_TYPES } from '../hubspot-emulator';
import type { EmulatorServer } from '../hubspot-emulator/server';
import { DEMO_OAUTH_APP } from '../hubspot-emulator/oauth';
import { patchContact } from '../hubspot-emulator/crm';
import type { EmulatorAccountSeed } from '../hubspot-emulator/store';
import {
  allPropertyValidationRulesResponseShape,
  batchAssociationReadShape,
  batchResponseSimplePublicObjectShape,
  batchResponseSimplePublicUpsertObjectShape,
  errorShape,
  PROPERTY_VALIDATION_RULE_TYPES,
  propertiesResponseShape,
  propertyShape,
  propertyValidationRulesResponseShape,
  searchResponseShape,
  simplePublicObjectShape,
  simplePublicObjectWithAssociationsShape,
} from '../src/hubspot/spec-shapes';
import {
  accessTokenInfoShape,
  accessTokenResponseShape,
  oauthErrorShape,
  refreshTokenInfoShape,
} from '../src/account-store/oauth-shapes';
import { approveInstall, oauthClient, sleep, startOAuthEmulator } from './accounts-support';

const OFF = { perTenSeconds: 0, searchPerSecond: 0 };
const SPEC: EmulatorAccountSeed = {
  accountId: 'spec',
  token: 'spec-token',
  appId: 8101,
  rateLimit: OFF,
  searchLagMs: 0,
  customProperties: [
    { name: 'plan', label: 'Plan', type: 'enumeration', fieldType: 'select', options: ['free', 'pro'] },
  ],
  contacts: [
    {
      id: '9001',
      properties: { email: 'ada@spec.example', firstname: 'Ada', hs_additional_emails: 'countess@spec.example' },
    },
    { id: '9002', properties: { email: 'bob@spec.example', firstname: 'Bob' } },
    { id: '9003', properties: { email: 'cy@spec.example', firstname: 'Cy' } },
  ],
  validationRules: {
    requiredOnCreate: ['lastname'],
    propertyRules: {
      zip: [{ ruleType: 'ALPHANUMERIC', ruleArguments: ['NUMERIC_ONLY'] }],
      website: [{ ruleType: 'URL', ruleArguments: [] }],
    },
  },
};
const READER: EmulatorAccountSeed = {
  accountId: 'spec-reader',
  token: 'spec-reader-token',
  appId: 8102,
  rateLimit: OFF,
  scopes: ['crm.objects.contacts.read'],
};
const LIMITED: EmulatorAccountSeed = {
  accountId: 'spec-limited',
  token: 'spec-limited-token',
  appId: 8103,
  rateLimit: { perTenSeconds: 1, searchPerSecond: 0 },
};

let emulator: EmulatorServer;
let hubspot: Client;
const checked: string[] = [];

before(async () => {
  emulator = await startOAuthEmulator({
    accessTokenTtlSeconds: 1,
    accounts: [SPEC, READER, LIMITED, { accountId: 'demo', token: 'demo-token', appId: 1000001, rateLimit: OFF }],
  });
  hubspot = new Client({ accessToken: SPEC.token, basePath: emulator.url, numberOfApiCallRetries: 0 });
});
after(async () => emulator?.close());

const V = '/crm/objects/2026-09';

/** One CRM call through the official client's request method; the raw answer. */
function crm(method: string, path: string, body?: unknown, token = SPEC.token): Promise<Response> {
  const c =
    token === SPEC.token
      ? hubspot
      : new Client({ accessToken: token, basePath: emulator.url, numberOfApiCallRetries: 0 });
  return c.apiRequest({ method, path, ...(body === undefined ? {} : { body }) });
}

/** A form POST to the 2026-03 OAuth token API, as the product's OAuth client sends it. */
function oauthPost(path: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${emulator.url}/oauth/2026-03/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: DEMO_OAUTH_APP.clientId,
      client_secret: DEMO_OAUTH_APP.clientSecret,
      ...form,
    }),
  });
}

/** Checks one answer's status and body against a spec shape (or that it has no body); counts it. */
async function conforms<T extends z.ZodType>(
  what: string,
  res: Response,
  status: number,
  shape: T | 'no body',
): Promise<z.output<T>> {
  const text = await res.text();
  assert.equal(res.status, status, `${what}: ${res.status} ${text.slice(0, 300)}`);
  assert.ok(!checked.includes(what), `${what} checked twice`);
  checked.push(what);
  if (shape === 'no body') {
    assert.equal(text, '', `${what} has a body`);
    return undefined as z.output<T>;
  }
  const parsed = shape.safeParse(JSON.parse(text));
  assert.ok(
    parsed.success,
    `${what} does not conform: ${parsed.success ? '' : JSON.stringify(parsed.error.issues).slice(0, 800)}\n${text.slice(0, 500)}`,
  );
  return parsed.data;
}

describe('contacts (Contacts 2026-09)', () => {
  test('create, read by id and by email, update, merge, delete', async () => {
    const created = await conforms(
      'contact create 201',
      await crm('POST', `${V}/contacts`, { properties: { email: 'new@spec.example', lastname: 'New' } }),
      201,
      simplePublicObjectShape,
    );
    await conforms(
      'contact read by id 200',
      await crm('GET', `${V}/contacts/${created.id}?properties=lastname,zip`),
      200,
      simplePublicObjectWithAssociationsShape,
    );
    await conforms(
      'contact read by email 200',
      await crm('GET', `${V}/contacts/countess%40spec.example?idProperty=email`),
      200,
      simplePublicObjectWithAssociationsShape,
    );
    await conforms(
      'contact update 200',
      await crm('PATCH', `${V}/contacts/${created.id}`, { properties: { firstname: 'Newer' } }),
      200,
      simplePublicObjectShape,
    );
    await conforms(
      'contact merge 200',
      await crm('POST', `${V}/contacts/merge`, { primaryObjectId: '9002', objectIdToMerge: '9003' }),
      200,
      simplePublicObjectShape,
    );
    await conforms('contact delete 204', await crm('DELETE', `${V}/contacts/${created.id}`), 204, 'no body');
  });

  test('refusals: unknown id, existing email, invalid email, a portal rule, a format rule, an unknown route, a body that is not JSON', async () => {
    await conforms('contact read of an unknown id 404', await crm('GET', `${V}/contacts/999999901`), 404, errorShape);
    await conforms(
      'contact create of an existing email 409',
      await crm('POST', `${V}/contacts`, { properties: { email: 'ADA@spec.example', lastname: 'X' } }),
      409,
      errorShape,
    );
    await conforms(
      'contact create with an invalid email 400',
      await crm('POST', `${V}/contacts`, { properties: { email: 'not-an-email', lastname: 'X' } }),
      400,
      errorShape,
    );
    const rule = await conforms(
      'contact create refused by a required-on-create rule 400',
      await crm('POST', `${V}/contacts`, { properties: { email: 'nolast@spec.example' } }),
      400,
      errorShape,
    );
    assert.equal(rule.category, 'VALIDATION_ERROR');
    assert.deepEqual(rule.errors?.[0]?.context?.propertyName, ['lastname']);
    await conforms(
      'contact create refused by a format rule 400',
      await crm('POST', `${V}/contacts`, { properties: { email: 'zip@spec.example', lastname: 'Z', zip: '12a' } }),
      400,
      errorShape,
    );
    await conforms(
      'a route the 2026-09 specs do not declare 404',
      await crm('GET', `${V}/contacts/9001/associations/notes`),
      404,
      errorShape,
    );
    const notJson = await fetch(`${emulator.url}${V}/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SPEC.token}`, 'content-type': 'application/json' },
      body: '{"properties":',
    });
    await conforms('a body that is not JSON 400', notJson, 400, errorShape);
  });

  test('batch read, create, update, upsert, and a batch over 100 inputs', async () => {
    const mixed = await conforms(
      'contact batch read with an unknown id 207',
      await crm('POST', `${V}/contacts/batch/read`, {
        inputs: [{ id: '9001' }, { id: '999999902' }],
        properties: ['email'],
        propertiesWithHistory: [],
      }),
      207,
      batchResponseSimplePublicObjectShape,
    );
    assert.equal(mixed.errors?.[0]?.category, 'OBJECT_NOT_FOUND');
    await conforms(
      'contact batch read by email 200',
      await crm('POST', `${V}/contacts/batch/read`, {
        idProperty: 'email',
        inputs: [{ id: 'ada@spec.example' }],
        properties: [],
        propertiesWithHistory: [],
      }),
      200,
      batchResponseSimplePublicObjectShape,
    );
    const made = await conforms(
      'contact batch create 201',
      await crm('POST', `${V}/contacts/batch/create`, {
        inputs: [{ properties: { email: 'b1@spec.example', lastname: 'B' }, associations: [] }],
      }),
      201,
      batchResponseSimplePublicObjectShape,
    );
    await conforms(
      'contact batch update 200',
      await crm('POST', `${V}/contacts/batch/update`, {
        inputs: [{ id: made.results[0]!.id, properties: { firstname: 'B1' } }],
      }),
      200,
      batchResponseSimplePublicObjectShape,
    );
    await conforms(
      'contact batch update with an unknown id 207',
      await crm('POST', `${V}/contacts/batch/update`, {
        inputs: [{ id: '999999903', properties: { firstname: 'X' } }],
      }),
      207,
      batchResponseSimplePublicObjectShape,
    );
    const upserted = await conforms(
      'contact batch upsert 200',
      await crm('POST', `${V}/contacts/batch/upsert`, {
        inputs: [
          { id: 'b1@spec.example', idProperty: 'email', properties: { city: 'Oslo' } },
          { id: 'b2@spec.example', idProperty: 'email', properties: { lastname: 'Two' } },
        ],
      }),
      200,
      batchResponseSimplePublicUpsertObjectShape,
    );
    assert.deepEqual(upserted.results.map((r) => r.new).sort(), [false, true]);
    const many = Array.from({ length: 101 }, (_, i) => ({ id: String(i) }));
    await conforms(
      'contact batch read of 101 inputs 400',
      await crm('POST', `${V}/contacts/batch/read`, { inputs: many, properties: [], propertiesWithHistory: [] }),
      400,
      errorShape,
    );
  });

  test('property history on the lookups by email: versions by this app, a person, another integration', async () => {
    // Ada (9001) was seeded as a person's record; this app, a person in the UI and another app then write her phone.
    await crm('PATCH', `${V}/contacts/9001`, { properties: { phone: '+1 555 0101' } });
    patchContact(
      emulator.account('spec'),
      emulator.account('spec').contacts.get('9001')!,
      { phone: '+1 555 0102' },
      { userId: 77 },
    );
    patchContact(
      emulator.account('spec'),
      emulator.account('spec').contacts.get('9001')!,
      { phone: '+1 555 0103' },
      { appId: 9999 },
    );
    const one = await conforms(
      'contact read by email with property history 200',
      await crm(
        'GET',
        `${V}/contacts/ada%40spec.example?idProperty=email&properties=phone&propertiesWithHistory=phone,firstname`,
      ),
      200,
      simplePublicObjectWithAssociationsShape,
    );
    const phone = one.propertiesWithHistory?.phone ?? [];
    assert.deepEqual(
      phone.map((v) => [v.value, v.sourceType, v.sourceId, v.updatedByUserId]),
      [
        ['+1 555 0103', 'INTEGRATION', '9999', undefined],
        ['+1 555 0102', 'CRM_UI', 'userId:77', 77],
        ['+1 555 0101', 'INTEGRATION', String(SPEC.appId), undefined],
      ],
    );
    assert.equal(one.propertiesWithHistory?.firstname?.[0]?.sourceType, 'CRM_UI', 'the seeded value is a person’s');
    const batch = await conforms(
      'contact batch read by email with property history 200',
      await crm('POST', `${V}/contacts/batch/read`, {
        idProperty: 'email',
        inputs: [{ id: 'countess@spec.example' }],
        properties: ['phone'],
        propertiesWithHistory: ['phone'],
      }),
      200,
      batchResponseSimplePublicObjectShape,
    );
    assert.deepEqual(
      batch.results[0]?.propertiesWithHistory?.phone?.map((v) => v.value),
      ['+1 555 0103', '+1 555 0102', '+1 555 0101'],
    );
  });

  test('search, with paging', async () => {
    const page = await conforms(
      'contact search 200',
      await crm('POST', `${V}/contacts/search`, {
        filterGroups: [],
        properties: ['email'],
        limit: 1,
        after: '0',
        sorts: [],
      }),
      200,
      searchResponseShape,
    );
    assert.ok(page.paging?.next?.after, 'no paging.next.after on a first page of one');
  });
});

describe('notes (Notes 2026-09) and their associations (Associations 2026-09)', () => {
  const association = (id: string) => [
    { to: { id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 202 }] },
  ];

  test('create, read with associations, update, batch create, read and update, search, refusals', async () => {
    const ts = new Date().toISOString();
    const note = await conforms(
      'note create 201',
      await crm('POST', `${V}/notes`, {
        properties: { hs_note_body: 'one', hs_timestamp: ts },
        associations: association('9001'),
      }),
      201,
      simplePublicObjectShape,
    );
    const read = await conforms(
      'note read with associations 200',
      await crm('GET', `${V}/notes/${note.id}?properties=hs_note_body&associations=contacts`),
      200,
      simplePublicObjectWithAssociationsShape,
    );
    assert.ok(read.associations?.contacts?.results.length);
    await conforms(
      'note update 200',
      await crm('PATCH', `${V}/notes/${note.id}`, { properties: { hs_note_body: 'two' } }),
      200,
      simplePublicObjectShape,
    );
    const batch = await conforms(
      'note batch create 201',
      await crm('POST', `${V}/notes/batch/create`, {
        inputs: [{ properties: { hs_note_body: 'b', hs_timestamp: ts }, associations: association('9001') }],
      }),
      201,
      batchResponseSimplePublicObjectShape,
    );
    await conforms(
      'note batch read with an unknown id 207',
      await crm('POST', `${V}/notes/batch/read`, {
        inputs: [{ id: batch.results[0]!.id }, { id: '999999904' }],
        properties: ['hs_note_body'],
        propertiesWithHistory: [],
      }),
      207,
      batchResponseSimplePublicObjectShape,
    );
    await conforms(
      'note batch update 200',
      await crm('POST', `${V}/notes/batch/update`, {
        inputs: [{ id: batch.results[0]!.id, properties: { hs_note_body: 'c' } }],
      }),
      200,
      batchResponseSimplePublicObjectShape,
    );
    await conforms(
      'note search 200',
      await crm('POST', `${V}/notes/search`, {
        filterGroups: [{ filters: [{ propertyName: 'associations.contact', operator: 'EQ', value: '9001' }] }],
        properties: [],
        limit: 10,
        after: '0',
        sorts: [],
      }),
      200,
      searchResponseShape,
    );
    await conforms(
      'note create for an unknown contact 400',
      await crm('POST', `${V}/notes`, {
        properties: { hs_note_body: 'x', hs_timestamp: ts },
        associations: association('999999905'),
      }),
      400,
      errorShape,
    );
    await conforms('note read of an unknown id 404', await crm('GET', `${V}/notes/999999906`), 404, errorShape);
  });

  test('the batch association read: found, unknown and note-less inputs, and paging past 500', async () => {
    const path = '/crm/associations/2026-09/contacts/notes/batch/read';
    const found = await conforms(
      'association batch read 200',
      await crm('POST', path, { inputs: [{ id: '9001' }] }),
      200,
      batchAssociationReadShape,
    );
    assert.ok(found.results[0]!.to.length >= 1);
    const partial = await conforms(
      'association batch read with an unknown and a note-less contact 207',
      await crm('POST', path, { inputs: [{ id: '9001' }, { id: '999999907' }, { id: '9002' }] }),
      207,
      batchAssociationReadShape,
    );
    assert.equal(partial.errors?.length, 2);
    const ts = new Date().toISOString();
    for (let i = 0; i < 6; i++) {
      const inputs = Array.from({ length: 100 }, (_, k) => ({
        properties: { hs_note_body: `p${i}-${k}`, hs_timestamp: ts },
        associations: association('9002'),
      }));
      assert.equal((await crm('POST', `${V}/notes/batch/create`, { inputs })).status, 201);
    }
    const paged = await conforms(
      'association batch read of a contact with 600 notes 200',
      await crm('POST', path, { inputs: [{ id: '9002' }] }),
      200,
      batchAssociationReadShape,
    );
    const after = paged.results[0]!.paging?.next?.after;
    assert.ok(after, 'no paging.next.after past 500 notes');
    const next = await conforms(
      'association batch read, next page 200',
      await crm('POST', path, { inputs: [{ id: '9002', after }] }),
      200,
      batchAssociationReadShape,
    );
    assert.equal(paged.results[0]!.to.length + next.results[0]!.to.length, 600);
  });
});

describe('calls (Calls 2026-09), communications (Communications 2026-09) and their associations (Associations 2026-09)', () => {
  const to = (id: string, typeId: number) => [
    { to: { id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId }] },
  ];

  for (const [object, typeId, props] of [
    [
      'calls',
      194,
      {
        hs_call_title: 'Call',
        hs_call_body: 'one',
        hs_call_direction: 'INBOUND',
        hs_call_duration: '61000',
        hs_call_status: 'COMPLETED',
      },
    ],
    [
      'communications',
      81,
      { hs_communication_body: 'one', hs_communication_channel_type: 'WHATS_APP', hs_communication_logged_from: 'CRM' },
    ],
  ] as const) {
    test(`${object}: create associated with a contact, read, update, batch read, the association batch read, archive, refusals`, async () => {
      const body = object === 'calls' ? 'hs_call_body' : 'hs_communication_body';
      const ts = new Date().toISOString();
      // Two contacts of this test's own: the contacts tests merge the seeded ones.
      const contact = async (n: number) =>
        (
          (await (
            await crm('POST', `${V}/contacts`, {
              properties: { email: `${object}-${n}@spec.example`, lastname: 'Spec' },
            })
          ).json()) as { id: string }
        ).id;
      const [withOne, without] = [await contact(1), await contact(2)];
      const created = await conforms(
        `${object} create 201`,
        await crm('POST', `${V}/${object}`, {
          properties: { ...props, hs_timestamp: ts },
          associations: to(withOne, typeId),
        }),
        201,
        simplePublicObjectShape,
      );
      assert.equal(created.properties[body], 'one');
      await conforms(
        `${object} read 200`,
        await crm('GET', `${V}/${object}/${created.id}?properties=${body}`),
        200,
        simplePublicObjectShape,
      );
      const updated = await conforms(
        `${object} update 200`,
        await crm('PATCH', `${V}/${object}/${created.id}`, { properties: { [body]: 'two' } }),
        200,
        simplePublicObjectShape,
      );
      assert.equal(updated.properties[body], 'two');
      const read = await conforms(
        `${object} batch read with an unknown id and history 207`,
        await crm('POST', `${V}/${object}/batch/read`, {
          inputs: [{ id: created.id }, { id: '999999910' }],
          properties: [body],
          propertiesWithHistory: [body],
        }),
        207,
        batchResponseSimplePublicObjectShape,
      );
      assert.deepEqual(
        read.results[0]!.propertiesWithHistory?.[body]?.map((v) => v.value),
        ['two', 'one'],
      );
      const path = `/crm/associations/2026-09/contacts/${object}/batch/read`;
      const assoc = await conforms(
        `${object} association batch read with a contact without any 207`,
        await crm('POST', path, { inputs: [{ id: withOne }, { id: without }] }),
        207,
        batchAssociationReadShape,
      );
      assert.deepEqual(
        assoc.results[0]!.to.map((t) => String(t.toObjectId)),
        [created.id],
      );
      await conforms(
        `${object} create with a value not among the options 400`,
        await crm('POST', `${V}/${object}`, {
          properties: {
            ...props,
            hs_timestamp: ts,
            [object === 'calls' ? 'hs_call_direction' : 'hs_communication_channel_type']: 'FAX',
          },
        }),
        400,
        errorShape,
      );
      await conforms(
        `${object} create with the note association type 400`,
        await crm('POST', `${V}/${object}`, {
          properties: { ...props, hs_timestamp: ts },
          associations: to(withOne, 202),
        }),
        400,
        errorShape,
      );
      await conforms(`${object} archive 204`, await crm('DELETE', `${V}/${object}/${created.id}`), 204, 'no body');
      await conforms(
        `${object} read of an archived id 404`,
        await crm('GET', `${V}/${object}/${created.id}`),
        404,
        errorShape,
      );
    });
  }
});

describe('properties (Properties 2026-09) and their validation rules (Property Validations 2026-09)', () => {
  test('list, one, unknown; every rule type one of the 27 published', async () => {
    const list = await conforms(
      'property list 200',
      await crm('GET', '/crm/properties/2026-09/contacts'),
      200,
      propertiesResponseShape,
    );
    assert.ok(list.results.some((p) => p.name === 'plan' && p.options.length === 2));
    await conforms('property read 200', await crm('GET', '/crm/properties/2026-09/contacts/email'), 200, propertyShape);
    await conforms(
      'property read of an unknown name 404',
      await crm('GET', '/crm/properties/2026-09/contacts/no_such'),
      404,
      errorShape,
    );
    const rules = await conforms(
      'validation rules of all properties 200',
      await crm('GET', '/crm/property-validations/2026-09/contacts'),
      200,
      allPropertyValidationRulesResponseShape,
    );
    // lastname is required on create in this portal, yet no published rule type says so: not listed.
    assert.deepEqual(
      rules.results.map((r) => r.propertyName),
      ['website', 'zip'],
    );
    await conforms(
      'validation rules of one property 200',
      await crm('GET', '/crm/property-validations/2026-09/0-1/zip'),
      200,
      propertyValidationRulesResponseShape,
    );
    await conforms(
      'validation rules of an unknown property 404',
      await crm('GET', '/crm/property-validations/2026-09/contacts/no_such'),
      404,
      errorShape,
    );
  });

  test('the emulator knows exactly the rule types the spec publishes', () => {
    assert.equal(PROPERTY_VALIDATION_RULE_TYPES.length, 27);
    assert.deepEqual([...PROPERTY_RULE_TYPES], [...PROPERTY_VALIDATION_RULE_TYPES]);
  });
});

describe('errors every endpoint shares (the specs’ default Error)', () => {
  test('401, 403, 429, 5xx, 423 and 477', async () => {
    await conforms(
      'unknown token 401',
      await crm('GET', `${V}/contacts/9001`, undefined, 'nobody-token'),
      401,
      errorShape,
    );
    await conforms(
      'missing scope 403',
      await crm('POST', `${V}/contacts`, { properties: { email: 'r@spec.example' } }, READER.token),
      403,
      errorShape,
    );
    await crm('GET', `${V}/contacts/1`, undefined, LIMITED.token);
    const limited = await crm('GET', `${V}/contacts/1`, undefined, LIMITED.token);
    assert.ok(limited.headers.get('retry-after'));
    await conforms('rate limited 429', limited, 429, errorShape);
    emulator.queueFault(emulator.account(SPEC.accountId), 'contacts.get', '500');
    await conforms('injected 500', await crm('GET', `${V}/contacts/9001`), 500, errorShape);
    emulator.queueFault(emulator.account(SPEC.accountId), 'contacts.get', '503');
    await conforms('injected 503', await crm('GET', `${V}/contacts/9001`), 503, errorShape);
    emulator.queueFault(emulator.account(SPEC.accountId), 'contacts.batchUpsert', '423');
    await conforms(
      'locked 423',
      await crm('POST', `${V}/contacts/batch/upsert`, {
        inputs: [{ id: 'l@spec.example', idProperty: 'email', properties: { lastname: 'L' } }],
      }),
      423,
      errorShape,
    );
    emulator.queueFault(emulator.account(SPEC.accountId), 'properties.get', '477', 1, undefined, 1);
    const migrating = await crm('GET', '/crm/properties/2026-09/contacts/email');
    assert.equal(migrating.headers.get('retry-after'), '1');
    await conforms('migration in progress 477', migrating, 477, errorShape);
    await sleep(1_050);
  });
});

describe('OAuth token API (Auth OAuth 2026-03)', () => {
  test('grants, introspections, revocation, and every refusal in the spec’s Error', async () => {
    const oauth = oauthClient(emulator.url);
    const code = (await approveInstall(oauth.installUrl('s'), SPEC.accountId)).searchParams.get('code')!;
    const granted = await conforms(
      'token: authorization code 200',
      await oauthPost('token', { grant_type: 'authorization_code', code, redirect_uri: oauth.settings.redirectUri }),
      200,
      accessTokenResponseShape,
    );
    await conforms(
      'token: code used twice 400',
      await oauthPost('token', { grant_type: 'authorization_code', code, redirect_uri: oauth.settings.redirectUri }),
      400,
      oauthErrorShape,
    );
    const refreshed = await conforms(
      'token: refresh 200',
      await oauthPost('token', { grant_type: 'refresh_token', refresh_token: granted.refresh_token }),
      200,
      accessTokenResponseShape,
    );
    await conforms(
      'introspect: access token 200',
      await oauthPost('token/introspect', { token: refreshed.access_token }),
      200,
      accessTokenInfoShape,
    );
    await conforms(
      'introspect: refresh token 200',
      await oauthPost('token/introspect', { token: granted.refresh_token }),
      200,
      refreshTokenInfoShape,
    );
    await conforms(
      'introspect: unknown token 400',
      await oauthPost('token/introspect', { token: 'na1-unknown.token' }),
      400,
      oauthErrorShape,
    );
    await conforms(
      'token: unsupported grant type 400',
      await oauthPost('token', { grant_type: 'password' }),
      400,
      oauthErrorShape,
    );
    await conforms(
      'token: wrong client secret 401',
      await oauthPost('token', {
        grant_type: 'refresh_token',
        refresh_token: granted.refresh_token,
        client_secret: 'wrong',
      }),
      401,
      oauthErrorShape,
    );
    const notForm = await fetch(`${emulator.url}/oauth/2026-03/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await conforms('token: a body that is not a form 400', notForm, 400, oauthErrorShape);
    emulator.oauth.failNext('503');
    await conforms(
      'token: outage 503',
      await oauthPost('token', { grant_type: 'refresh_token', refresh_token: granted.refresh_token }),
      503,
      oauthErrorShape,
    );
    emulator.oauth.failNext('429');
    await conforms(
      'token: rate limited 429',
      await oauthPost('token', { grant_type: 'refresh_token', refresh_token: granted.refresh_token }),
      429,
      oauthErrorShape,
    );

    // The access token expires (1 s here): a CRM call is a 401 EXPIRED_AUTHENTICATION; introspection still describes it.
    await sleep(1_100);
    const expired = await conforms(
      'CRM call with an expired access token 401',
      await crm('GET', `${V}/contacts/9001`, undefined, refreshed.access_token),
      401,
      errorShape,
    );
    assert.equal(expired.category, 'EXPIRED_AUTHENTICATION');
    const inactive = await conforms(
      'introspect: expired access token 200',
      await oauthPost('token/introspect', { token: refreshed.access_token }),
      200,
      accessTokenInfoShape,
    );
    assert.equal(inactive.active, false);

    await conforms('revoke 204', await oauthPost('token/revoke', { token: granted.refresh_token }), 204, 'no body');
    await conforms(
      'token: revoked refresh token 400',
      await oauthPost('token', { grant_type: 'refresh_token', refresh_token: granted.refresh_token }),
      400,
      oauthErrorShape,
    );
  });
});

describe('conformance report', () => {
  test('every answer checked conforms to its spec shape', (t) => {
    // Counted per answer kind (endpoint and outcome); each one above is a separate, passing check.
    t.diagnostic(`emulator answers checked against HubSpot's spec shapes: ${checked.length}`);
    assert.ok(checked.length >= 55, `only ${checked.length} answers were checked`);
  });
});
