// The action config schema and the mapping validation against a HubSpot property schema.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { actionConfigSchema } from '../src/action/config';
import { validateFieldMappings } from '../src/action/mapping-validation';
import { describeZodError } from '../src/platform/contract';
import { STANDARD_CONTACT_PROPERTIES, defineProperty } from '../hubspot-emulator/properties';

const schema = [
  ...STANDARD_CONTACT_PROPERTIES.map((p) => defineProperty(p, true)),
  defineProperty({ name: 'favorite_product', type: 'string', fieldType: 'text' }, false),
  defineProperty({ name: 'seats', type: 'number', fieldType: 'number' }, false),
  defineProperty({ name: 'crm_segment', type: 'string', fieldType: 'text', readOnlyValue: true }, false),
  defineProperty({ name: 'score_label', type: 'string', fieldType: 'text', calculated: true }, false),
];

const base = {
  id: 'a1',
  name: 'Upsert',
  intent: 'save the customer',
  offlineSync: false,
  hubspotAccountId: 'acme',
  allowCreate: true,
  allowUpdateExisting: false,
  fieldMappings: [{ hubspotProperty: 'email', astraField: 'email' }],
};

describe('action config schema', () => {
  test('a minimal config is valid and customFields default to none', () => {
    assert.deepEqual(actionConfigSchema.parse(base).customFields, []);
  });

  test('refusals name the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        { ...base, fieldMappings: [{ hubspotProperty: 'firstname', astraField: 'first_name' }] },
        /fieldMappings: a row mapping the HubSpot property `email` is required/,
      ],
      [{ ...base, hubspotAccountId: 'pat-na1-1234' }, /hubspotAccountId: looks like a token/],
      [{ ...base, offlineSync: 'yes' }, /offlineSync/],
      [{ ...base, customFields: [{ key: 'Bad Key', label: 'x', type: 'text' }] }, /customFields\[0\]\.key/],
      [{ ...base, customFields: [{ key: 'plan', label: 'Plan', type: 'number' }] }, /customFields\[0\]\.type/],
      [
        { ...base, fieldMappings: [...base.fieldMappings, { hubspotProperty: '', astraField: 'x' }] },
        /fieldMappings\[1\]\.hubspotProperty/,
      ],
      [
        {
          ...base,
          fieldMappings: [...base.fieldMappings, { hubspotProperty: 'phone', astraField: 'phone', writeRule: 'merge' }],
        },
        /fieldMappings\[1\]\.writeRule: unknown write rule "merge": the allowed write rules are overwrite, fillIfEmpty, keepPersonEdits/,
      ],
    ];
    for (const [input, pattern] of cases) {
      const r = actionConfigSchema.safeParse(input);
      assert.equal(r.success, false);
      assert.match(describeZodError(r.error!), pattern);
    }
  });
});

describe('mapping validation against the account’s contact properties', () => {
  const check = (rows: Array<{ hubspotProperty: string; astraField: string }>) =>
    validateFieldMappings(
      actionConfigSchema.parse({ ...base, fieldMappings: [...base.fieldMappings, ...rows] }),
      schema,
    );

  test('text, textarea and phone-number properties, standard or custom, are accepted', () => {
    assert.deepEqual(
      check([
        { hubspotProperty: 'firstname', astraField: 'first_name' },
        { hubspotProperty: 'phone', astraField: 'phone' },
        { hubspotProperty: 'message', astraField: 'summary' },
        { hubspotProperty: 'favorite_product', astraField: 'product' },
      ]),
      [],
    );
  });

  test('each kind of bad row is refused with a message naming the row', () => {
    const problems = check([
      { hubspotProperty: 'no_such_prop', astraField: 'x' },
      { hubspotProperty: 'createdate', astraField: 'x' },
      { hubspotProperty: 'score_label', astraField: 'x' },
      { hubspotProperty: 'seats', astraField: 'x' },
      { hubspotProperty: 'lifecyclestage', astraField: 'x' },
      { hubspotProperty: 'crm_segment', astraField: 'x' },
      { hubspotProperty: 'EMAIL', astraField: 'email2' },
      { hubspotProperty: 'firstname', astraField: 'first name' },
    ]);
    const expect = [
      /^fieldMappings\[1\] \(no_such_prop <- x\): HubSpot account acme has no contact property "no_such_prop"/,
      /^fieldMappings\[2\] \(createdate <- x\): "createdate" is read-only/,
      /^fieldMappings\[3\] \(score_label <- x\): "score_label" is calculated/,
      /^fieldMappings\[4\] \(seats <- x\): "seats" is a number\/number property/,
      /^fieldMappings\[5\] \(lifecyclestage <- x\): "lifecyclestage" is a enumeration\/radio property/,
      /^fieldMappings\[6\] \(crm_segment <- x\): "crm_segment" is read-only/,
      /^fieldMappings\[7\] \(EMAIL <- email2\): HubSpot property "EMAIL" is already mapped by fieldMappings\[0\]/,
      /^fieldMappings\[8\] \(firstname <- first name\): platform field "first name" is not a field name/,
    ];
    assert.equal(problems.length, expect.length, problems.join('\n'));
    expect.forEach((pattern, i) => assert.match(problems[i]!, pattern));
  });
});
