// Bad input, property-based (fast-check): thousands of generated inputs against the contract's
// schemas, the pure planner and note renderer, the platform client's validation, and, on the
// time-skipping server with the real worker, thousands of generated signals and updates.
// PROPERTY_RUNS_SCALE (default 1) scales every numRuns, e.g. 0.1 for a quick run or 5 for a soak.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Client } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import {
  callEndedSchema,
  conversationInputSchema,
  describeZodError,
  fieldsUpdatedSchema,
  messageSchema,
  runActionSchema,
  safeValidate,
  type ConversationState,
} from '../src/platform/contract';
import { actionConfigSchema, SUMMARY_FIELD, type ActionConfig } from '../src/action/config';
import { planContactSync, resolveLookupEmail, type ContactLookup, type SyncResult } from '../src/action/plan';
import { escapeHtml, NOTE_BODY_LIMIT, noteReference, renderSummaryNote, TRUNCATION_MARKER } from '../src/action/note';
import { ConversationClient, ConversationInputError } from '../src/platform/client';
import { timeSkippingEnv } from './helpers/temporal-env';
import { action, ACME, conversation, startHarness, type Harness } from './helpers/conversation-harness';

const SCALE = Number(process.env.PROPERTY_RUNS_SCALE ?? '1') || 1;
const runs = (n: number) => Math.max(10, Math.round(n * SCALE));
/** fast-check prints the seed (and path) of a failing run; FC_SEED=<seed> replays it. */
const seedOpt = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};
const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns: runs(numRuns), ...seedOpt });

// ------------------------------------------------------------------------------------------------
// Generators
// ------------------------------------------------------------------------------------------------

const HTML = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><b>bold</b>',
  "it's & <that>",
  '<!-- c -->',
  '</p><p>',
  '<br>',
  '&amp;&lt;',
];
const UNICODE = [
  'é',
  'Łódź',
  '東京',
  '👩‍👩‍👧‍👦',
  '🇫🇷',
  'ﷺ',
  'e\u0301',
  '\u200b',
  '\u202eRTL',
  'Ω≈ç√',
  '\t',
  '\r\n',
  '\n',
  ' ',
];

/** Text a user could type: unicode of every plane, HTML, control characters, whitespace. */
const text = (maxLength: number) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength, unit: 'grapheme' }) },
    { weight: 2, arbitrary: fc.string({ maxLength, unit: 'binary' }) },
    { weight: 1, arbitrary: fc.string({ maxLength }) },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.constantFrom(...HTML, ...UNICODE), { maxLength: 20 })
        .map((a) => a.join('').slice(0, maxLength)),
    },
  );
const nonEmptyText = (maxLength: number) => text(maxLength).filter((s) => s.length >= 1);
/** A string z.string().trim().min(1).max(n) accepts. */
const trimmedText = (maxLength: number) =>
  fc
    .oneof(
      fc.string({ minLength: 1, maxLength: Math.min(maxLength, 40), unit: 'grapheme' }),
      fc.constantFrom(...HTML, 'Save the customer', 'é'),
    )
    .map((s) => s.trim().slice(0, maxLength))
    .filter((s) => s.length >= 1 && s.trim() === s);

const fieldKey = nonEmptyText(100).filter((k) => k.length <= 100 && k !== '__proto__');
const fieldValue = fc.option(text(300), { nil: null, freq: 5 });
const fieldValues = fc.dictionary(fieldKey, fieldValue, { maxKeys: 12, noNullPrototype: true });
const summary = text(2000);
const conversationId = fc.stringMatching(/^[A-Za-z0-9._:-]{1,200}$/);

const fieldMapping = fc.record({ hubspotProperty: trimmedText(100), astraField: trimmedText(100) });
const customField = fc.record({
  key: fc.stringMatching(/^[a-z][a-z0-9_]{0,30}$/),
  label: trimmedText(200),
  type: fc.constant('text' as const),
});
const accountRef = trimmedText(200).filter(
  (v) => !/^(pat-|Bearer\s)/i.test(v) && !/^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(v),
);
const validActionConfig = fc.record(
  {
    id: trimmedText(200),
    name: trimmedText(200),
    intent: trimmedText(2000),
    offlineSync: fc.boolean(),
    hubspotAccountId: accountRef,
    allowCreate: fc.boolean(),
    allowUpdateExisting: fc.boolean(),
    fieldMappings: fc
      .tuple(
        fc.array(fieldMapping, { maxLength: 6 }),
        fc.constantFrom('email', 'EMAIL', 'Email'),
        trimmedText(100),
        fc.nat(),
      )
      .map(([rows, emailProp, astra, at]) => {
        const out = [...rows];
        out.splice(at % (rows.length + 1), 0, { hubspotProperty: emailProp, astraField: astra });
        return out;
      }),
    customFields: fc.array(customField, { maxLength: 3 }),
  },
  {
    requiredKeys: [
      'id',
      'name',
      'intent',
      'offlineSync',
      'hubspotAccountId',
      'allowCreate',
      'allowUpdateExisting',
      'fieldMappings',
    ],
  },
);
const validActions = fc.uniqueArray(validActionConfig, { maxLength: 4, selector: (a) => a.id });
const validOptions = fc.record(
  {
    inactivityTimeoutMs: fc.integer({ min: 1, max: 30 * 24 * 3600_000 }),
    callSafetyTimeoutMs: fc.integer({ min: 1, max: 30 * 24 * 3600_000 }),
    offlineRetryWindowMs: fc.integer({ min: 1, max: 30 * 24 * 3600_000 }),
    actionTimeoutMs: fc.integer({ min: 1_000, max: 30 * 24 * 3600_000 }),
    historyEventsBeforeContinueAsNew: fc.integer({ min: 20, max: 50_000 }),
  },
  { requiredKeys: [] },
);
const validConversationInput = fc.record(
  {
    conversationId,
    workspaceId: conversationId,
    channel: fc.constantFrom('chat', 'whatsapp', 'sms', 'linkedin', 'voice'),
    actions: validActions,
    fields: fieldValues,
    summary,
    options: validOptions,
  },
  { requiredKeys: ['conversationId', 'workspaceId', 'channel', 'actions'] },
);
const validMessage = fc.record(
  { from: fc.constantFrom('customer', 'agent'), messageId: nonEmptyText(200), fields: fieldValues, summary },
  { requiredKeys: ['from'] },
);
const validCallEnded = fc.record({ fields: fieldValues, summary }, { requiredKeys: [] });
const validFieldsUpdate = validCallEnded.filter((v) => v.fields !== undefined || v.summary !== undefined);
const validRunAction = fc.record(
  { actionId: nonEmptyText(200), fields: fieldValues, summary },
  { requiredKeys: ['actionId'] },
);

// ---- bad values, by what the field expects: every one of them must be refused ----------------------

const notAString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);
/** Longer than max: zod measures strings in code points, so each repeated unit is one code point. */
const tooLong = (max: number) =>
  fc
    .tuple(fc.constantFrom('x', 'é', '<', ' ', '👩'), fc.integer({ min: 1, max: 50 }))
    .map(([c, extra]) => c.repeat(max + extra));
const badRequiredString = (max: number) => fc.oneof(notAString, fc.constant(''), tooLong(max));
const badOptionalString = (max: number) => fc.oneof(notAString, tooLong(max));
/** What z.string().trim().min(1).max(n) refuses (a string that is only whitespace trims to empty). */
const badTrimmedString = (max: number) =>
  fc.oneof(
    notAString,
    fc.constantFrom('', ' ', '\t\n', '   '),
    tooLong(max).map((s) => `${s}`.replace(/\s/g, 'y')),
  );
const hugeSummary = fc.constant('s'.repeat(1_000_001));
const badSummary = fc.oneof(notAString, hugeSummary);
const notARecord = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.array(fc.string(), { minLength: 0, maxLength: 3 }),
);
const badFields = fc.oneof(
  notARecord,
  fc
    .tuple(
      fieldKey,
      fc.oneof(
        fc.integer(),
        fc.boolean(),
        fc.array(fc.string()),
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
      ),
    )
    .map(([k, v]) => ({ [k]: v })),
  fc.tuple(fieldKey, fc.integer({ min: 1, max: 20 })).map(([k, extra]) => ({ [k]: 'v'.repeat(65_536 + extra) })),
  fc.constant({ '': 'empty key' }),
  fc.integer({ min: 101, max: 140 }).map((n) => ({ ['k'.repeat(n)]: 'too long key' })),
  fc
    .integer({ min: 201, max: 260 })
    .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, 'v']))),
);

/** One corruption: the key it breaks (what the error must name) and the bad value. */
interface Corruption {
  key: string;
  value: unknown;
}
const corruptionsOf = (table: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof(...Object.entries(table).map(([key, arb]) => arb.map((value): Corruption => ({ key, value }))));

/** A valid object with exactly one field replaced by a bad value; extra unknown keys thrown in sometimes. */
function nearValid<T extends object>(valid: fc.Arbitrary<T>, table: Record<string, fc.Arbitrary<unknown>>) {
  return fc
    .tuple(
      valid,
      corruptionsOf(table),
      fc.option(
        fc.dictionary(
          fc.string({ minLength: 1 }).map((k) => `x_${k}`),
          fc.anything(),
          { maxKeys: 3 },
        ),
      ),
    )
    .map(([base, c, extra]) => ({
      input: { ...(extra ?? {}), ...base, [c.key]: c.value } as Record<string, unknown>,
      key: c.key,
    }));
}

const messageCorruptions = {
  from: fc.oneof(notAString, fc.constantFrom('robot', 'Customer', 'AGENT', '', 'customer ', '<script>')),
  messageId: badRequiredString(200),
  fields: badFields,
  summary: badSummary,
};
const updateCorruptions = { fields: badFields, summary: badSummary };
const runActionCorruptions = { actionId: badRequiredString(200), fields: badFields, summary: badSummary };
const actionCorruptions: Record<string, fc.Arbitrary<unknown>> = {
  id: badTrimmedString(200),
  name: badTrimmedString(200),
  intent: badTrimmedString(2000),
  offlineSync: fc.oneof(fc.constantFrom('true', 'yes', 1, 0, null), fc.string()),
  allowCreate: fc.oneof(fc.constantFrom('false', 1, null), fc.string()),
  allowUpdateExisting: fc.oneof(fc.constantFrom('true', 0, null), fc.string()),
  hubspotAccountId: fc.oneof(
    badTrimmedString(200),
    fc.string({ minLength: 1, maxLength: 30 }).map((t) => `pat-eu1-${t}`),
    fc.string({ minLength: 1, maxLength: 30 }).map((t) => `Bearer ${t.trim() || 'x'}`),
    fc.uuid(),
  ),
  fieldMappings: fc.oneof(
    notAString,
    fc.constant([]),
    fc.array(
      fieldMapping.filter((r) => r.hubspotProperty.toLowerCase() !== 'email'),
      { minLength: 1, maxLength: 5 },
    ),
    fc
      .tuple(fc.constantFrom('hubspotProperty', 'astraField'), badTrimmedString(100))
      .map(([k, v]) => [{ hubspotProperty: 'email', astraField: 'email', [k]: v }]),
    fc.constant(Array.from({ length: 201 }, () => ({ hubspotProperty: 'email', astraField: 'email' }))),
  ),
  customFields: fc.oneof(
    fc.constantFrom('text', 1, null, {}),
    fc.constantFrom('Bad Key', '1starts', 'has-dash', '', 'É').map((key) => [{ key, label: 'L', type: 'text' }]),
    fc.constantFrom('number', 'TEXT', null).map((type) => [{ key: 'ok', label: 'L', type }]),
    fc.constant([{ key: 'ok', label: '   ', type: 'text' }]),
  ),
};
const conversationCorruptions: Record<string, fc.Arbitrary<unknown>> = {
  conversationId: fc.oneof(
    badRequiredString(200),
    fc.constantFrom('has spaces', 'jane@example.com', 'a/b', '<script>', 'é', 'tab\t', 'new\nline', '👩'),
    fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9._:-]+$/.test(s)),
  ),
  workspaceId: fc.oneof(
    badRequiredString(200),
    fc.constantFrom('has spaces', 'a/b', '../other', 'é', 'new\nline'),
    fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9._:-]+$/.test(s)),
  ),
  channel: fc.oneof(notAString, fc.constantFrom('fax', 'Chat', 'VOICE', '', 'email')),
  actions: fc.oneof(
    notARecord
      .filter((v) => !Array.isArray(v) || v.length > 0)
      .map((v) => (Array.isArray(v) ? v.map((x) => ({ id: x })) : v)),
    validActionConfig.map((a) => [a, { ...a }]), // duplicate ids
    fc.constant(Array.from({ length: 51 }, (_, i) => ({ ...action({ id: `a${i}` }) }))),
  ),
  fields: badFields,
  summary: badSummary,
  options: fc.oneof(
    fc.constantFrom('fast', 1, []),
    fc
      .tuple(
        fc.constantFrom('inactivityTimeoutMs', 'callSafetyTimeoutMs', 'offlineRetryWindowMs', 'actionTimeoutMs'),
        fc.oneof(fc.constantFrom(0, -1, 1.5, 30 * 24 * 3600_000 + 1, '600000', null), fc.integer({ max: 0 })),
      )
      .map(([k, v]) => ({ [k]: v })),
    fc.constantFrom(19, 0, 50_001, 1.5, '5000').map((v) => ({ historyEventsBeforeContinueAsNew: v })),
  ),
  operatorRetry: fc.oneof(
    notAString.filter((v) => v !== null),
    fc.constant(null),
    badRequiredString(200).map((actionId) => ({ actionId })),
  ),
};

/** A conversation input with one action (or the conversation itself) broken. */
const nearValidConversation = fc.oneof(
  nearValid(validConversationInput, conversationCorruptions),
  fc.tuple(validConversationInput, nearValid(validActionConfig, actionCorruptions), fc.nat()).map(([conv, bad, at]) => {
    const actions = [...(conv.actions as unknown[])];
    const index = at % (actions.length + 1);
    // An id unlike the other ones, so that a duplicate id is not what gets reported.
    if (typeof (bad.input as { id?: unknown }).id === 'string' && bad.key !== 'id')
      (bad.input as { id: string }).id = `action-under-test-${index}`;
    actions.splice(index, 0, bad.input);
    return { input: { ...conv, actions } as Record<string, unknown>, key: bad.key, index };
  }),
);

/** Everything JSON can carry, and more (maps, sets, boxed values, null prototypes, typed arrays). */
const anyValue = fc.anything({
  maxDepth: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
});

// ------------------------------------------------------------------------------------------------
// Assertions shared by the schema properties
// ------------------------------------------------------------------------------------------------

type AnySchema = {
  safeParse(v: unknown): { success: true; data: unknown } | { success: false; error: import('zod').ZodError };
};

/** Parses without throwing; on failure, returns the one-line description after checking it is usable. */
function refusal(schema: AnySchema, value: unknown): string | undefined {
  let parsed: ReturnType<AnySchema['safeParse']>;
  try {
    parsed = safeValidate(schema as never, value) as ReturnType<AnySchema['safeParse']>;
  } catch (err) {
    assert.fail(`validation threw: ${String(err)}`);
  }
  if (parsed.success) return undefined;
  const issues = parsed.error.issues;
  assert.ok(issues.length > 0, 'a failure without issues');
  const described = describeZodError(parsed.error);
  assert.ok(described.trim().length > 0, 'empty error description');
  for (const issue of issues) {
    assert.ok(issue.message.trim().length > 0, 'an issue without a message');
    // Each issue is "path: problem", with "(root)" when the value itself is wrong.
    const path = issue.path.length
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('')
          .replace(/^\./, '')
      : '(root)';
    assert.ok(described.includes(`${path}: ${issue.message}`), `the description misses "${path}: ${issue.message}"`);
  }
  assert.doesNotMatch(described, /\[object Object\]/, 'an unreadable description');
  return described;
}

function assertRefusedNaming(schema: AnySchema, value: unknown, name: string): string {
  const described = refusal(schema, value);
  assert.ok(described !== undefined, `accepted a value with a bad "${name}"`);
  assert.ok(described.includes(name), `the error does not name "${name}": ${described.slice(0, 500)}`);
  return described;
}

/** Prototype-free comparison: generated records may have a null prototype, parsed ones never do. */
const plain = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

function assertAccepted(schema: AnySchema, value: unknown): unknown {
  const parsed = schema.safeParse(value);
  if (!parsed.success) assert.fail(`refused a valid value: ${describeZodError(parsed.error).slice(0, 500)}`);
  return parsed.data;
}

// ------------------------------------------------------------------------------------------------
// 1. Pure properties
// ------------------------------------------------------------------------------------------------

describe('property: the contract schemas never throw, refuse with a message that names the field', () => {
  const schemas: Array<[string, AnySchema]> = [
    ['conversationInputSchema', conversationInputSchema],
    ['messageSchema', messageSchema],
    ['fieldsUpdatedSchema', fieldsUpdatedSchema],
    ['callEndedSchema', callEndedSchema],
    ['runActionSchema', runActionSchema],
    ['actionConfigSchema', actionConfigSchema],
  ];

  test('any value at all: safeParse never throws, and every refusal is described path by path', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        for (const [, schema] of schemas) refusal(schema, value);
      }),
      params(3000),
    );
  });

  test('any value nested where an object is expected: never throws, described path by path', () => {
    const shaped = fc.record(
      {
        from: anyValue,
        fields: anyValue,
        summary: anyValue,
        actionId: anyValue,
        conversationId: anyValue,
        channel: anyValue,
        actions: anyValue,
        options: anyValue,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(shaped, (value) => {
        for (const [, schema] of schemas) refusal(schema, value);
      }),
      params(2000),
    );
  });

  test('valid messages, field updates, call ends and runAction requests are accepted unchanged, extra keys dropped', () => {
    const extra = fc.dictionary(
      fc.string({ minLength: 1 }).map((k) => `x_${k}`),
      fc.jsonValue(),
      { maxKeys: 3 },
    );
    const cases = fc.oneof(
      fc.tuple(fc.constant(messageSchema as AnySchema), validMessage as fc.Arbitrary<object>, extra),
      fc.tuple(fc.constant(fieldsUpdatedSchema as AnySchema), validFieldsUpdate as fc.Arbitrary<object>, extra),
      fc.tuple(fc.constant(callEndedSchema as AnySchema), validCallEnded as fc.Arbitrary<object>, extra),
      fc.tuple(fc.constant(runActionSchema as AnySchema), validRunAction as fc.Arbitrary<object>, extra),
    );
    fc.assert(
      fc.property(cases, ([schema, value, more]) => {
        assert.deepEqual(plain(assertAccepted(schema, value)), plain(value));
        assert.deepEqual(
          plain(assertAccepted(schema, { ...more, ...value })),
          plain(value),
          'unknown keys are not carried into the workflow',
        );
      }),
      params(3000),
    );
  });

  test('valid action configs and conversation inputs are accepted, with the documented defaults', () => {
    fc.assert(
      fc.property(validConversationInput, (input) => {
        const out = assertAccepted(conversationInputSchema, input) as Record<string, unknown>;
        assert.equal(out.conversationId, input.conversationId);
        assert.deepEqual(plain(out.fields), plain(input.fields));
        assert.equal(out.summary, input.summary);
        const actions = out.actions as ActionConfig[];
        assert.equal(actions.length, input.actions.length);
        actions.forEach((a, i) => {
          assert.deepEqual(plain(a.customFields), plain(input.actions[i]!.customFields ?? []));
          assert.deepEqual(plain(a.fieldMappings), plain(input.actions[i]!.fieldMappings));
          assert.equal(a.id, input.actions[i]!.id);
        });
        if (input.options) {
          const o = out.options as Record<string, number>;
          assert.equal(o.inactivityTimeoutMs, input.options.inactivityTimeoutMs ?? 600_000);
          assert.equal(o.historyEventsBeforeContinueAsNew, input.options.historyEventsBeforeContinueAsNew ?? 5_000);
        }
      }),
      params(2000),
    );
  });

  test('message with one bad field: refused, and the error names that field', () => {
    fc.assert(
      fc.property(
        nearValid(validMessage, messageCorruptions),
        ({ input, key }) => void assertRefusedNaming(messageSchema, input, key),
      ),
      params(3000),
    );
  });

  test('fieldsUpdated / callEnded with one bad field: refused, naming it; fieldsUpdated with nothing: refused', () => {
    fc.assert(
      fc.property(nearValid(validCallEnded, updateCorruptions), ({ input, key }) => {
        assertRefusedNaming(callEndedSchema, input, key);
        assertRefusedNaming(fieldsUpdatedSchema, input, key);
      }),
      params(3000),
    );
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().map((k) => `x_${k}`),
          fc.jsonValue(),
          { maxKeys: 3 },
        ),
        (extra) => {
          const described = assertRefusedNaming(fieldsUpdatedSchema, extra, '(root)');
          assert.match(described, /fields, a summary, or both/);
        },
      ),
      params(500),
    );
  });

  test('runAction with one bad field: refused, naming it', () => {
    fc.assert(
      fc.property(
        nearValid(validRunAction, runActionCorruptions),
        ({ input, key }) => void assertRefusedNaming(runActionSchema, input, key),
      ),
      params(3000),
    );
  });

  test('action config with one bad field: refused, naming it', () => {
    fc.assert(
      fc.property(
        nearValid(validActionConfig, actionCorruptions),
        ({ input, key }) => void assertRefusedNaming(actionConfigSchema, input, key),
      ),
      params(3000),
    );
  });

  test('conversation input with one bad field (or one bad action): refused, naming it', () => {
    fc.assert(
      fc.property(nearValidConversation, (c) => {
        const described = assertRefusedNaming(conversationInputSchema, c.input, c.key);
        if ('index' in c)
          assert.ok(
            described.includes(`actions[${c.index}]`),
            `the error does not say which action: ${described.slice(0, 300)}`,
          );
      }),
      params(3000),
    );
  });

  test('a refusal never echoes the refused value (it may be personal data)', () => {
    const personal = fc.oneof(
      fc.emailAddress(),
      fc.stringMatching(/^\+[1-9][0-9]{7,12}$/),
      fc.string({ minLength: 8, maxLength: 40, unit: 'grapheme' }).filter((v) => v.trim().length >= 8),
    );
    const cases = fc.oneof(
      personal.map((v) => [messageSchema, { from: v }, 'from', v] as const),
      personal.map(
        (v) =>
          [
            conversationInputSchema,
            { conversationId: `${v} `, channel: 'chat', actions: [] },
            'conversationId',
            v,
          ] as const,
      ),
      personal.map(
        (v) => [conversationInputSchema, { conversationId: 'c1', channel: v, actions: [] }, 'channel', v] as const,
      ),
      personal.map((v) => [messageSchema, { from: 'customer', fields: { email: [v] } }, 'fields.email', v] as const),
      personal.map((v) => [runActionSchema, { actionId: 'a', summary: { text: v } }, 'summary', v] as const),
      personal.map((v) => [messageSchema, { from: 'customer', messageId: v.repeat(201) }, 'messageId', v] as const),
    );
    fc.assert(
      fc.property(cases, ([schema, input, name, value]) => {
        const described = assertRefusedNaming(schema as AnySchema, input, name);
        assert.ok(!described.includes(value.trim()), `the refusal echoes the value: ${described.slice(0, 300)}`);
      }),
      params(2000),
    );
  });

  test('an action config that holds a token is refused, and the error does not echo the token', () => {
    const secret = fc.string({ minLength: 8, maxLength: 40, unit: fc.constantFrom(...'abcdef0123456789ABCDEFXYZ') });
    const token = fc.oneof(
      secret.map((s) => `pat-na1-${s}`),
      secret.map((s) => `Bearer ${s}`),
      fc.uuid(),
    );
    fc.assert(
      fc.property(validActionConfig, token, (config, t) => {
        const described = assertRefusedNaming(
          actionConfigSchema,
          { ...config, hubspotAccountId: t },
          'hubspotAccountId',
        );
        assert.ok(!described.includes(t), 'the refusal echoes the token');
      }),
      params(2000),
    );
  });
});

// ---- planContactSync -------------------------------------------------------------------------------

const PLATFORM_FIELDS = ['email', 'first_name', 'last_name', 'phone', 'company', SUMMARY_FIELD, 'notes'];
const HUBSPOT_PROPS = ['email', 'Email', 'firstname', 'lastname', 'phone', 'company', 'message'];
const planValue = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom<string | null | undefined>(
      null,
      undefined,
      '',
      ' ',
      '   ',
      '\t',
      '\n \r\n',
      '\u00a0',
      '\u3000',
    ),
  },
  { weight: 4, arbitrary: text(80) },
  { weight: 2, arbitrary: fc.constantFrom('jane@example.com', ' Jane@Example.com ', 'not-an-email', 'Jane', '+1 555') },
);
const planConfig: fc.Arbitrary<ActionConfig> = fc
  .record({
    allowCreate: fc.boolean(),
    allowUpdateExisting: fc.boolean(),
    rows: fc.array(
      fc.record({
        hubspotProperty: fc.constantFrom(...HUBSPOT_PROPS),
        astraField: fc.constantFrom(...PLATFORM_FIELDS),
      }),
      { maxLength: 8 },
    ),
    emailRow: fc.record({
      hubspotProperty: fc.constantFrom('email', 'EMAIL', 'Email'),
      astraField: fc.constantFrom(...PLATFORM_FIELDS),
    }),
    at: fc.nat(),
  })
  .map(({ allowCreate, allowUpdateExisting, rows, emailRow, at }) => {
    const fieldMappings = [...rows];
    fieldMappings.splice(at % (rows.length + 1), 0, emailRow);
    return actionConfigSchema.parse({
      id: 'a',
      name: 'A',
      intent: 'i',
      offlineSync: true,
      hubspotAccountId: 'acme',
      allowCreate,
      allowUpdateExisting,
      fieldMappings,
    });
  });
const planFields = fc.dictionary(fc.constantFrom(...PLATFORM_FIELDS), planValue, {
  maxKeys: PLATFORM_FIELDS.length,
  noNullPrototype: true,
});
const planLookup: fc.Arbitrary<ContactLookup> = fc.oneof(
  fc.constant({ found: false as const }),
  fc.record({
    found: fc.constant(true as const),
    contactId: fc.stringMatching(/^[1-9][0-9]{0,12}$/),
    ours: fc.boolean(),
    properties: fc.dictionary(fc.constantFrom(...HUBSPOT_PROPS), fc.option(fc.string(), { nil: null })),
  }),
);
const present = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const RESULTS: SyncResult[] = ['created', 'updated', 'note_only', 'skipped', 'failed'];

describe('property: planContactSync follows the decision table for every config, fields, summary and lookup', () => {
  const planInput = fc.record({
    config: planConfig,
    fields: planFields,
    summary: fc.option(
      planValue.map((v) => v ?? undefined),
      { nil: undefined },
    ),
    lookup: planLookup,
  });

  test('never sends an empty value, never rewrites the email on update, and says what it wrote', () => {
    fc.assert(
      fc.property(planInput, ({ config, fields, summary, lookup }) => {
        const plan = planContactSync({ config, fields, summary, lookup });
        const { outcome, contact } = plan;
        assert.ok(RESULTS.includes(outcome.result), `unknown result ${outcome.result}`);
        assert.ok(outcome.reason.trim().length > 0, 'an outcome without a reason');
        assert.notEqual(outcome.result, 'failed', 'planning alone never fails');
        const written = contact.kind === 'none' ? {} : contact.properties;
        for (const [name, value] of Object.entries(written)) {
          assert.ok(present(value), `sends an empty value to ${name}: ${JSON.stringify(value)}`);
          // Every value written comes from a row mapping some platform field (or the summary) to that property.
          const sources = config.fieldMappings
            .filter((r) => r.hubspotProperty === name)
            .map((r) => (r.astraField === SUMMARY_FIELD ? (summary ?? fields[SUMMARY_FIELD]) : fields[r.astraField]));
          assert.ok(
            sources.some((s) => s === value || (name.toLowerCase() === 'email' && s?.trim() === value)),
            `${name} gets a value no mapping gives it`,
          );
          if (name.toLowerCase() === 'email') assert.equal(value, value.trim(), 'an untrimmed email');
        }
        if (contact.kind === 'update') {
          assert.ok(
            !Object.keys(contact.properties).some((p) => p.toLowerCase() === 'email'),
            'an update rewrites the lookup email',
          );
          assert.ok(
            lookup.found && contact.contactId === lookup.contactId,
            'updates a contact other than the one found',
          );
        }
        assert.deepEqual(
          [...outcome.propertiesWritten].sort(),
          Object.keys(written).sort(),
          'propertiesWritten is not what was written',
        );
        if (lookup.found) assert.equal(outcome.contactId, lookup.contactId);
        else assert.equal(outcome.contactId, undefined);
        // Only a contact to attach it to and a real summary make a note.
        assert.equal(plan.note, present(summary) && (lookup.found || config.allowCreate));
      }),
      params(5000),
    );
  });

  test('the outcome is the one the decision table gives for the case', () => {
    fc.assert(
      fc.property(planInput, ({ config, fields, summary, lookup }) => {
        const plan = planContactSync({ config, fields, summary, lookup });
        const hasSummary = present(summary);
        // Every mapped non-empty value, computed row by row (later rows win for the same property).
        // (An empty row never removes what another row mapping the same property gives.)
        const mapped = new Set<string>();
        for (const r of config.fieldMappings) {
          const v = r.astraField === SUMMARY_FIELD ? (summary ?? fields[SUMMARY_FIELD]) : fields[r.astraField];
          if (present(v)) mapped.add(r.hubspotProperty);
        }
        if (!lookup.found && !config.allowCreate) {
          assert.equal(plan.outcome.result, 'skipped');
          assert.equal(plan.contact.kind, 'none');
          assert.equal(plan.note, false);
          assert.match(plan.outcome.reason, /creat/i);
        } else if (!lookup.found) {
          assert.equal(plan.outcome.result, 'created');
          assert.equal(plan.contact.kind, 'create');
          assert.deepEqual(
            Object.keys(plan.contact.kind === 'create' ? plan.contact.properties : {}).sort(),
            [...mapped].sort(),
          );
        } else if ((lookup.ours && config.allowCreate) || config.allowUpdateExisting) {
          const updatable = [...mapped].filter((p) => p.toLowerCase() !== 'email');
          if (updatable.length > 0) {
            assert.equal(plan.outcome.result, 'updated');
            assert.equal(plan.contact.kind, 'update');
            assert.deepEqual(
              Object.keys(plan.contact.kind === 'update' ? plan.contact.properties : {}).sort(),
              updatable.sort(),
            );
          } else {
            assert.equal(plan.contact.kind, 'none');
            assert.equal(plan.outcome.result, hasSummary ? 'updated' : 'skipped');
          }
        } else {
          assert.equal(plan.contact.kind, 'none', 'writes properties of a contact it may not update');
          assert.equal(plan.outcome.result, hasSummary ? 'note_only' : 'skipped');
        }
      }),
      params(5000),
    );
  });
});

describe('property: the lookup email (the decision table, "email missing or invalid")', () => {
  const emailConfig = (astraField: string) =>
    actionConfigSchema.parse({
      id: 'a',
      name: 'A',
      intent: 'i',
      offlineSync: true,
      hubspotAccountId: 'acme',
      allowCreate: true,
      allowUpdateExisting: true,
      fieldMappings: [{ hubspotProperty: 'email', astraField }],
    });
  const candidate = fc.oneof(
    fc.emailAddress(),
    fc.tuple(fc.emailAddress(), fc.constantFrom(' ', '\t', '\n', '\u00a0')).map(([e, ws]) => `${ws}${e}${ws}`),
    planValue,
    fc.constantFrom(
      'a@b',
      'a b@c.de',
      '@x.com',
      'x@',
      'x@.com',
      'x@y.c',
      'jane@example.com<script>',
      'jane@@example.com',
      '"jane"@example.com',
      'jane@example.com, joe@example.com',
    ),
    fc.tuple(fc.emailAddress(), fc.nat(300)).map(([e, n]) => `${'a'.repeat(n)}${e}`),
  );

  test('a usable email is found (trimmed), anything else is refused with a reason naming the field', () => {
    fc.assert(
      fc.property(candidate, fc.constantFrom('email', 'work_email', SUMMARY_FIELD), (value, field) => {
        const r = resolveLookupEmail(emailConfig(field), { [field]: value });
        if (r.ok) {
          assert.equal(r.email, r.email.trim());
          assert.equal(r.email, (value as string).trim(), 'the email was rewritten beyond trimming');
          assert.ok(r.email.length <= 254, 'an email longer than 254 characters');
          assert.match(r.email, /^[^\s@]+@[^\s@]+\.[^\s@.]{2,}$/);
          assert.doesNotMatch(r.email, /[<>"(),;:\\[\]]/);
        } else {
          // The reason names the field and says what is wrong, and never echoes the value (personal data).
          assert.equal(
            r.reason,
            present(value)
              ? `The value of "${field}" is not a valid email address`
              : `No email: the field "${field}" mapped to HubSpot's email is empty`,
          );
        }
      }),
      params(3000),
    );
    // What fast-check calls a valid address (RFC 5321/5322, at most 254 characters) is never refused.
    fc.assert(
      fc.property(
        fc.emailAddress().filter((e) => e.length <= 254),
        (email) => {
          const r = resolveLookupEmail(emailConfig('email'), { email: `  ${email} ` });
          assert.ok(r.ok, `a valid address was refused: ${email}`);
          assert.equal(r.email, email);
        },
      ),
      params(3000),
    );
  });
});

// ---- renderSummaryNote -----------------------------------------------------------------------------

const HEAD = '<p><strong>Conversation summary</strong></p><p>';
const isWellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
const render = (s: string) => escapeHtml(s).replace(/\r?\n/g, '<br>');

/** Summaries of every size up to ~200k characters, built from generated chunks (HTML, unicode, newlines). */
const noteSummary = fc.oneof(
  { weight: 4, arbitrary: text(500) },
  { weight: 2, arbitrary: fc.string({ maxLength: 300, unit: 'grapheme' }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.array(fc.oneof(text(40), fc.constantFrom(...HTML, ...UNICODE, '"', "'", '&', '\r\n', '\n', '👩‍👩‍👧‍👦')), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 10_000, max: 200_000 }),
      )
      .map(([chunks, times, cap]) => chunks.join('').repeat(times).slice(0, cap)),
  },
  // Right around the limit, where an off-by-one would show.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('a', '&', '\n', '👩', 'é', '"', '\r\n'), fc.integer({ min: -300, max: 300 }))
      .map(([c, delta]) => {
        const budget = NOTE_BODY_LIMIT - HEAD.length - 120;
        const unit = render(c).length;
        return c.repeat(Math.max(0, Math.floor((budget + delta) / unit)));
      }),
  },
);

describe('property: the summary note is escaped, fits HubSpot, and carries its reference', () => {
  test('any summary: at most NOTE_BODY_LIMIT, escaped, well-formed, truncated with the marker iff too long', () => {
    fc.assert(
      fc.property(noteSummary, fc.stringMatching(/^[A-Za-z0-9._:-]{1,60}$/), (summary, key) => {
        const note = renderSummaryNote(summary, key);
        const tail = `</p><p style="color:#7c98b6;font-size:11px">Reference: ${noteReference(key)}</p>`;
        assert.ok(note.length <= NOTE_BODY_LIMIT, `note of ${note.length} characters`);
        assert.ok(note.startsWith(HEAD), 'the heading is missing');
        assert.ok(note.endsWith(tail), 'the reference line is missing');
        assert.match(noteReference(key), /^syncref[0-9a-f]{16}$/);
        const body = note.slice(HEAD.length, note.length - tail.length);
        // Nothing from the summary is markup: the only tags in the body are the line breaks.
        assert.doesNotMatch(body.replace(/<br>/g, ''), /[<>"']/, 'unescaped markup from the summary');
        assert.doesNotMatch(body, /<script/i);
        // Every & starts an entity this renderer writes.
        assert.doesNotMatch(body, /&(?!amp;|lt;|gt;|quot;|#39;)/, 'a bare &');
        if (isWellFormed(summary)) assert.ok(isWellFormed(note), 'the note has a lone surrogate (a split emoji)');
        const budget = NOTE_BODY_LIMIT - HEAD.length - tail.length;
        const full = render(summary);
        const marker = escapeHtml(TRUNCATION_MARKER);
        if (full.length <= budget) {
          assert.equal(body, full, 'a summary that fits was changed');
        } else {
          assert.ok(body.endsWith(marker), 'truncated without the marker');
          const kept = body.slice(0, body.length - marker.length);
          // What is kept is the start of the summary (a cut inside "\r\n" may leave a bare "\r").
          assert.ok(
            full.startsWith(kept) || (kept.endsWith('\r') && full.startsWith(`${kept.slice(0, -1)}<br>`)),
            'the kept text is not the start of the summary',
          );
          // And the cut uses the room there is: a whole escape or line break at most is given up, plus a surrogate pair.
          assert.ok(body.length >= budget - 8, `cut to ${body.length} of ${budget} characters`);
        }
      }),
      params(2500),
    );
  });
});

// ---- ConversationClient: refuses before anything reaches Temporal ------------------------------------

describe('property: the platform client refuses bad input with ConversationInputError, before any Temporal call', () => {
  /** Stands in for the Temporal client: any property can be read (a real Client reads nothing remote), any call is recorded. */
  function dummyClient() {
    const calls: string[] = [];
    const make = (path: string): unknown =>
      new Proxy(function () {}, {
        get: (_t, prop) => (prop === 'then' ? undefined : make(`${path}.${String(prop)}`)),
        apply: () => {
          calls.push(path);
          return Promise.reject(new Error(`Temporal was called: ${path}`));
        },
      });
    return { client: make('client') as Client, calls };
  }
  const validConversation = validConversationInput.map((c) => ({
    ...c,
    actions: [action({ id: 'live', offlineSync: false }), ...c.actions.filter((a) => a.id !== 'live')],
  }));

  test('bad conversation, message, update, call end or runAction request', async () => {
    type Op = { what: string; key: string; call: (c: ConversationClient) => Promise<unknown> };
    const ops: fc.Arbitrary<Op> = fc.oneof(
      fc.tuple(nearValidConversation, validMessage).map(([c, m]) => ({
        what: 'conversation',
        key: c.key,
        call: (cc: ConversationClient) => cc.recordMessage(c.input as never, m as never),
      })),
      fc.tuple(nearValidConversation, validRunAction).map(([c, r]) => ({
        what: 'conversation',
        key: c.key,
        call: (cc: ConversationClient) => cc.runAction(c.input as never, { ...r, actionId: 'live' } as never),
      })),
      fc.tuple(nearValidConversation, validFieldsUpdate).map(([c, u]) => ({
        what: 'conversation',
        key: c.key,
        call: (cc: ConversationClient) => cc.updateFields(c.input as never, u as never),
      })),
      fc.tuple(validConversation, nearValid(validMessage, messageCorruptions)).map(([c, m]) => ({
        what: 'message',
        key: m.key,
        call: (cc: ConversationClient) => cc.recordMessage(c as never, m.input as never),
      })),
      fc.tuple(validConversation, nearValid(validCallEnded, updateCorruptions)).map(([c, u]) => ({
        what: 'fieldsUpdated',
        key: u.key,
        call: (cc: ConversationClient) => cc.updateFields(c as never, u.input as never),
      })),
      fc.tuple(validConversation, nearValid(validCallEnded, updateCorruptions)).map(([c, u]) => ({
        what: 'callEnded',
        key: u.key,
        call: (cc: ConversationClient) => cc.endCall(c as never, u.input as never),
      })),
      fc.tuple(validConversation, nearValid(validRunAction, runActionCorruptions)).map(([c, r]) => ({
        what: 'runAction',
        key: r.key,
        call: (cc: ConversationClient) => cc.runAction(c as never, r.input as never),
      })),
      conversationCorruptions.conversationId.map((id) => ({
        what: 'conversation',
        key: 'conversationId',
        call: (cc: ConversationClient) => cc.getState({ workspaceId: 'ws-a', conversationId: id } as never),
      })),
      conversationCorruptions.workspaceId!.map((ws) => ({
        what: 'conversation',
        key: 'workspaceId',
        call: (cc: ConversationClient) => cc.getState({ workspaceId: ws, conversationId: 'c-1' } as never),
      })),
    );
    await fc.assert(
      fc.asyncProperty(ops, async (op) => {
        const { client, calls } = dummyClient();
        const cc = new ConversationClient({ client, taskQueue: 'never-used' });
        let error: unknown;
        try {
          await op.call(cc);
        } catch (err) {
          error = err;
        }
        assert.deepEqual(calls, [], `Temporal was called for a bad ${op.what}`);
        assert.ok(error instanceof ConversationInputError, `expected ConversationInputError, got ${String(error)}`);
        assert.ok(
          error.message.startsWith(`${op.what}: `),
          `the message does not say what was refused: ${error.message.slice(0, 200)}`,
        );
        assert.ok(
          error.message.includes(op.key),
          `the message does not name "${op.key}": ${error.message.slice(0, 300)}`,
        );
      }),
      params(2000),
    );
  });

  test('the internal continue-as-new state cannot be passed in by the platform', async () => {
    // `carried` is internal (see Conversation = Omit<ConversationInput, 'carried'>); an untyped caller that
    // sends it anyway must be refused or have it dropped, or it could forge outcomes, counts and fields.
    const forged = fc.record({
      fields: fc.constant({ email: 'forged@example.com' }),
      lastActivityAtMs: fc.integer({ min: 0, max: 2 ** 40 }),
      messageCount: fc.nat(),
      noteIds: fc.constant({}),
      outcomes: fc.constant({ forged: [{ result: 'created', reason: 'forged', propertiesWritten: [] }] }),
      rejections: fc.constant([]),
      runsBefore: fc.nat(),
      startedAtMs: fc.integer({ min: 0, max: 2 ** 40 }),
    });
    await fc.assert(
      fc.asyncProperty(validConversation, forged, async (c, carried) => {
        const captured: unknown[] = [];
        const client = {
          workflow: {
            signalWithStart: async (_type: string, options: { args: unknown[] }) => {
              captured.push(options.args[0]);
              return { workflowId: 'w', signaledRunId: 'r' };
            },
          },
        } as unknown as Client;
        // The look-up of conversations of the earlier id scheme is a Temporal call of its own (test/tenants.test.ts).
        const cc = new ConversationClient({ client, findLegacyConversations: false });
        let error: unknown;
        await cc.recordMessage({ ...c, carried } as never, { from: 'customer' }).catch((e: unknown) => (error = e));
        if (error !== undefined) {
          assert.ok(
            error instanceof ConversationInputError && error.message.includes('carried'),
            `refused, but unclearly: ${String(error)}`,
          );
          assert.equal(captured.length, 0);
        } else {
          assert.equal(captured.length, 1);
          assert.equal(
            (captured[0] as { carried?: unknown }).carried,
            undefined,
            'the platform client forwarded a forged `carried` state to the workflow',
          );
        }
      }),
      params(200),
    );
  });

  test('valid input gets through validation (the dummy Temporal client is what answers)', async () => {
    await fc.assert(
      fc.asyncProperty(validConversation, validMessage, async (c, m) => {
        const { client, calls } = dummyClient();
        // The look-up of conversations of the earlier id scheme is a Temporal call of its own (test/tenants.test.ts).
        const cc = new ConversationClient({ client, findLegacyConversations: false });
        await assert.rejects(
          cc.recordMessage(c as never, m as never),
          /Temporal was called: client\.workflow\.signalWithStart/,
        );
        assert.deepEqual(calls, ['client.workflow.signalWithStart']);
      }),
      params(1000),
    );
  });
});

// ------------------------------------------------------------------------------------------------
// 2. The real worker on the time-skipping server: a storm of generated signals and updates
// ------------------------------------------------------------------------------------------------

type Kind = 'message' | 'fieldsUpdated' | 'callEnded';
type Op =
  | {
      type: 'valid';
      kind: 'message' | 'fieldsUpdated';
      payload: { fields?: Record<string, string | null>; summary?: string; from?: string };
    }
  | { type: 'garbage'; kind: Kind; payload: unknown; names: string };

/** JSON-safe (what a caller bypassing the client can send through Temporal's JSON payloads). */
const jsonBad = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);
const STORM_KEYS = ['first_name', 'last_name', 'phone', 'company', 'city', 'notes', 'email'];
const stormFields = fc.dictionary(fc.constantFrom(...STORM_KEYS), fc.option(text(60), { nil: null, freq: 6 }), {
  minKeys: 1,
  maxKeys: 3,
  noNullPrototype: true,
});
const stormBadFields = fc.oneof(
  fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.integer(),
    fc.boolean(),
    fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }),
  ),
  fc
    .tuple(
      fc.constantFrom(...STORM_KEYS),
      jsonBad.filter((v) => v !== null),
    )
    .map(([k, v]) => ({ [k]: v })),
  fc.constantFrom({ '': 'empty key' }, { ['k'.repeat(101)]: 'long key' }, { first_name: 'v'.repeat(65_537) }),
);
const stormGarbage = (channel: 'text' | 'voice'): fc.Arbitrary<Op> =>
  fc.oneof(
    fc
      .oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }))
      .map((payload): Op => ({ type: 'garbage', kind: 'message', payload, names: '(root)' })),
    fc
      .constantFrom('robot', 'Customer', '', 1, null)
      .map((from): Op => ({ type: 'garbage', kind: 'message', payload: { from }, names: 'from' })),
    stormBadFields.map((fields): Op => ({
      type: 'garbage',
      kind: 'message',
      payload: { from: 'customer', fields },
      names: 'fields',
    })),
    jsonBad.map((summary): Op => ({ type: 'garbage', kind: 'fieldsUpdated', payload: { summary }, names: 'summary' })),
    stormBadFields.map((fields): Op => ({
      type: 'garbage',
      kind: 'fieldsUpdated',
      payload: { fields },
      names: 'fields',
    })),
    fc
      .constantFrom({}, { other: 1 })
      .map((payload): Op => ({ type: 'garbage', kind: 'fieldsUpdated', payload, names: '(root)' })),
    fc.constantFrom('', 5, 'x'.repeat(201), null).map((messageId): Op => ({
      type: 'garbage',
      kind: 'message',
      payload: { from: 'agent', messageId },
      names: 'messageId',
    })),
    // A signal sent without its argument.
    fc
      .constantFrom<Kind>('message', 'fieldsUpdated')
      .map((kind): Op => ({ type: 'garbage', kind, payload: undefined, names: '(root)' })),
    // callEnded with a bad shape (on a text channel, any callEnded is refused; see the dedicated test).
    (channel === 'voice' ? stormBadFields.map((fields) => ({ fields })) : fc.constant({ fields: 7 })).map(
      (payload): Op => ({ type: 'garbage', kind: 'callEnded', payload, names: 'fields' }),
    ),
  );
const stormValid: fc.Arbitrary<Op> = fc.oneof(
  fc
    .record(
      { from: fc.constantFrom('customer', 'agent'), fields: stormFields, summary: text(200) },
      { requiredKeys: ['from'] },
    )
    .map((payload): Op => ({ type: 'valid', kind: 'message', payload })),
  fc
    .record({ fields: stormFields, summary: text(200) }, { requiredKeys: ['fields'] })
    .map((payload): Op => ({ type: 'valid', kind: 'fieldsUpdated', payload })),
);
const storm = (n: number, channel: 'text' | 'voice', seed: number): Op[] =>
  fc.sample(fc.oneof({ weight: 3, arbitrary: stormValid }, { weight: 2, arbitrary: stormGarbage(channel) }), {
    numRuns: n,
    seed,
  });

/** The garbage runAction requests a caller bypassing the client can send, with the field the refusal must name. */
const badRunActions = (n: number, seed: number) =>
  fc.sample(
    fc.oneof(
      fc
        .oneof(
          fc.string({ maxLength: 8 }),
          fc.integer(),
          fc.boolean(),
          fc.constant(null),
          fc.array(fc.integer(), { maxLength: 2 }),
        )
        .map((payload) => ({ payload, names: '(root)' })),
      fc
        .oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant(''), fc.constant('a'.repeat(201)))
        .map((actionId) => ({ payload: { actionId }, names: 'actionId' })),
      stormBadFields.map((fields) => ({ payload: { actionId: 'live', fields }, names: 'fields' })),
      jsonBad.map((summary) => ({ payload: { actionId: 'live', summary }, names: 'summary' })),
      fc
        .stringMatching(/^[a-z0-9-]{1,20}$/)
        .filter((id) => id !== 'live')
        .map((actionId) => ({ payload: { actionId }, names: `"${actionId}"` })),
    ),
    { numRuns: n, seed },
  );

const EventType = temporal.api.enums.v1.EventType;

describe('property: a storm of generated signals and updates on the real worker', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(await timeSkippingEnv());
  });
  after(async () => {
    await h?.close();
  });

  /** Every run of a workflow id, newest first, by following continue-as-new back to the first. */
  async function historiesOf(workflowId: string) {
    const out: Array<{ runId: string; events: temporal.api.history.v1.IHistoryEvent[] }> = [];
    let runId: string | undefined = (await h.env.client.workflow.getHandle(workflowId).describe()).runId;
    while (runId) {
      const history: temporal.api.history.v1.IHistory = await h.env.client.workflow
        .getHandle(workflowId, runId)
        .fetchHistory();
      const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
      out.push({ runId, events });
      runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
      assert.ok(out.length < 10_000, 'runaway run chain');
    }
    return out;
  }

  let unhandledCommandRetries = 0;
  function assertNoWorkflowTaskFailed(histories: Awaited<ReturnType<typeof historiesOf>>) {
    for (const { runId, events } of histories) {
      // UNHANDLED_COMMAND is Temporal's own guard, not a failure of the workflow code: a task that
      // completes (here: continues as new) while new signals arrived is sent back so that the signals
      // are handled first. Every other cause (an exception, non-determinism, a bad payload) is a bug.
      const failed = events.filter(
        (e) =>
          e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED &&
          e.workflowTaskFailedEventAttributes?.cause !==
            temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
      );
      unhandledCommandRetries +=
        events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED).length - failed.length;
      assert.equal(
        failed.length,
        0,
        `run ${runId}: ${failed.length} workflow task failure(s): ${failed
          .map(
            (e) =>
              `${e.workflowTaskFailedEventAttributes?.cause}: ${e.workflowTaskFailedEventAttributes?.failure?.message}`,
          )
          .join(' | ')
          .slice(0, 500)}`,
      );
    }
  }

  /** What the workflow must end up with: valid signals merged in order, garbage rejected (last 20 kept). */
  function model(ops: Op[], initial: Record<string, string | null>) {
    let fields = { ...initial };
    let summary: string | undefined;
    let messages = 0;
    const garbage: Array<Extract<Op, { type: 'garbage' }>> = [];
    for (const op of ops) {
      if (op.type === 'garbage') garbage.push(op);
      else {
        if (op.payload.fields) fields = { ...fields, ...op.payload.fields };
        if (op.payload.summary !== undefined) summary = op.payload.summary;
        if (op.kind === 'message') messages++;
      }
    }
    return { fields, summary, messages, garbage };
  }

  /** A caller bypassing the client still names the conversation's workspace: the payload's own flaws are what is refused. */
  const ownWorkspace = (payload: unknown, c: { workspaceId: string }): unknown =>
    typeof payload === 'object' && payload !== null && !Array.isArray(payload)
      ? { workspaceId: c.workspaceId, ...payload }
      : payload;

  function assertRejections(state: ConversationState, garbage: Array<Extract<Op, { type: 'garbage' }>>) {
    const kept = Math.min(20, garbage.length);
    assert.equal(
      state.rejections.length,
      kept,
      `${state.rejections.length} rejections kept for ${garbage.length} garbage signals (20 expected at most)`,
    );
    const expected = garbage.slice(-kept);
    state.rejections.forEach((r, i) => {
      const g = expected[i]!;
      assert.equal(r.kind, g.kind, `rejection ${i} is of the wrong kind`);
      assert.ok(r.message.startsWith(`${g.kind} signal refused: `), `rejection ${i}: ${r.message.slice(0, 200)}`);
      assert.ok(r.message.includes(g.names), `rejection ${i} does not name "${g.names}": ${r.message.slice(0, 300)}`);
      assert.ok(!Number.isNaN(Date.parse(r.at)), 'a rejection without a time');
    });
  }

  test('thousands of signals (valid and garbage) and invalid updates: rejections recorded, state intact across continue-as-new, sync still runs', async () => {
    const started = Date.now();
    const emailOf = (c: { conversationId: string }) =>
      `storm.${c.conversationId.replace(/[^a-z0-9]/gi, '')}@example.com`;
    const mappings = [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name' },
      { hubspotProperty: 'lastname', astraField: 'last_name' },
      { hubspotProperty: 'company', astraField: 'company' },
    ];
    const live = action({ id: 'live', offlineSync: false, fieldMappings: mappings });
    const offline = action({ id: 'offline', offlineSync: true, fieldMappings: mappings });
    // Default continue-as-new threshold (5000 events), a tight one (every ~100 events), and a voice call.
    const convs = [
      { conv: conversation('chat', [live, offline]), channel: 'text' as const, n: 3800, seed: 1 },
      {
        conv: conversation('whatsapp', [offline], { options: { historyEventsBeforeContinueAsNew: 100 } }),
        channel: 'text' as const,
        n: 900,
        seed: 2,
      },
      {
        conv: conversation('voice', [offline], { options: { historyEventsBeforeContinueAsNew: 300 } }),
        channel: 'voice' as const,
        n: 900,
        seed: 3,
      },
    ];
    const badUpdates = badRunActions(300, 4);

    await h.run(async () => {
      const first = { first_name: 'Initial' } as Record<string, string | null>;
      for (const { conv } of convs) await h.platform.recordMessage(conv, { from: 'customer', fields: first });

      const send = async (c: (typeof convs)[number], ops: Op[]) => {
        const handle = h.platform.handle(c.conv);
        for (const op of ops) await handle.signal(op.kind, ownWorkspace(op.payload, c.conv) as never);
      };
      const stormed = convs.map((c) => ({ ...c, ops: storm(c.n, c.channel, c.seed) }));
      // Invalid runAction updates, concurrently with the signals, on the conversation that has an in-conversation action.
      const updates = (async () => {
        const handle = h.platform.handle(convs[0]!.conv);
        const refusals: string[] = [];
        // runAction, and the operators' retryAction (only its actionId and the action's existence are checked).
        const requests = [
          ...badUpdates.map((bad) => ({ update: 'runAction', ...bad })),
          ...badUpdates
            .filter((bad) => !['fields', 'summary'].includes(bad.names))
            .slice(0, 100)
            .map((bad) => ({ update: 'retryAction', ...bad })),
        ];
        for (const bad of requests) {
          try {
            await handle.executeUpdate(bad.update, { args: [ownWorkspace(bad.payload, convs[0]!.conv)] });
            assert.fail(`${bad.update} accepted ${JSON.stringify(bad.payload).slice(0, 200)}`);
          } catch (err) {
            assert.ok(err instanceof WorkflowUpdateFailedError, `not an update refusal: ${String(err)}`);
            const message = String(err.cause?.message);
            assert.ok(message.startsWith(`${bad.update} refused: `), `unclear refusal: ${message.slice(0, 200)}`);
            assert.ok(message.includes(bad.names), `the refusal does not name ${bad.names}: ${message.slice(0, 300)}`);
            refusals.push(message);
          }
        }
        return refusals;
      })();
      await Promise.all([...stormed.map((c) => send(c, c.ops)), updates]);
      const refused = (await updates).length;
      assert.ok(refused > badUpdates.length, `${refused} update refusals`);
      process.stderr.write(
        `[bad-input] ${stormed.reduce((n, c) => n + c.ops.length, 0)} signals and ${refused} invalid updates sent in ${Date.now() - started} ms\n`,
      );

      // A valid in-conversation action still works after the storm.
      const liveRun = await h.platform.runAction(convs[0]!.conv, {
        actionId: 'live',
        fields: { email: emailOf(convs[0]!.conv) },
      });
      assert.equal(liveRun.result, 'created', liveRun.reason);

      for (const c of stormed) {
        const expected = model(c.ops, first);
        const state = await h.platform.getState(c.conv);
        assert.ok(state, 'the conversation is gone');
        assert.equal(state.status, 'active');
        assert.equal(state.messageCount, 1 + expected.messages, 'messages were lost or counted twice');
        assertRejections(state, expected.garbage);
        assert.ok(state.runsBefore >= 1, `never continued as new (${state.runsBefore})`);
        process.stderr.write(
          `[bad-input] ${c.conv.conversationId}: ${c.ops.length} signals, ${expected.garbage.length} garbage, ${state.runsBefore} continue-as-new\n`,
        );
      }

      // End every conversation: a last valid message with the email, then silence (text) or the call's end (voice).
      for (const c of stormed) {
        const email = emailOf(c.conv);
        if (c.channel === 'voice') await h.platform.endCall(c.conv, { fields: { email } });
        else await h.platform.recordMessage(c.conv, { from: 'customer', fields: { email } });
      }
      await h.env.sleep('11m');
      for (const c of stormed) {
        const expected = model(c.ops, first);
        const email = emailOf(c.conv);
        const result = await h.platform.result(c.conv);
        assert.equal(result.status, 'ended');
        assert.equal(result.endReason, c.channel === 'voice' ? 'call-ended' : 'inactivity');
        assert.deepEqual(
          result.finalFields,
          { ...expected.fields, email },
          'the final fields are not the valid signals merged in order',
        );
        assert.equal(result.finalSummary, expected.summary);
        assert.equal(result.messageCount, 1 + expected.messages + (c.channel === 'voice' ? 0 : 1));
        const runs = result.outcomes['offline'];
        assert.equal(runs?.length, 1, 'the offline sync did not run exactly once');
        assert.ok(
          ['created', 'updated'].includes(runs[0]!.result),
          `offline sync: ${runs[0]!.result}: ${runs[0]!.reason}`,
        );
        const contacts = h.emulator.contacts(ACME.accountId).filter((x) => x.properties.email === email);
        assert.equal(contacts.length, 1, `one contact for ${email}`);
        const firstName = expected.fields.first_name;
        if (present(firstName))
          assert.equal(contacts[0]!.properties.firstname, firstName, 'the contact does not have the final first name');
        const histories = await historiesOf(h.platform.handle(c.conv).workflowId);
        process.stderr.write(
          `[bad-input] ${c.conv.conversationId}: runs of ${histories
            .map((r) => r.events.length)
            .reverse()
            .join(', ')} events\n`,
        );
        assertNoWorkflowTaskFailed(histories);
      }
      process.stderr.write(
        `[bad-input] storm test done in ${Date.now() - started} ms (${unhandledCommandRetries} workflow tasks sent back by Temporal for signals that raced a continue-as-new)\n`,
      );
    });
  });

  test('callEnded on a text channel: refused, changes nothing, and the rejections stay capped', async () => {
    const conv = conversation('chat', [action()]);
    const email = `text.callended.${process.pid}@example.com`;
    await h.run(async () => {
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email, first_name: 'Kept' },
        summary: 'Kept summary',
      });
      const handle = h.platform.handle(conv);
      // Valid callEnded payloads (the client would send them), on a conversation that is not a call.
      const payloads = fc.sample(
        validCallEnded.map((v) => plain(v) as object),
        { numRuns: 60, seed: 5 },
      );
      payloads.splice(30, 0, {
        fields: { first_name: 'Changed', email: 'changed@example.com' },
        summary: 'Changed summary',
      });
      for (const p of payloads) await handle.signal('callEnded', ownWorkspace(p, conv) as never);
      const state = await h.platform.getState(conv);
      const problems: string[] = [];
      if (state?.status !== 'active') problems.push(`a callEnded signal ended a text conversation (${state?.status})`);
      if (!state!.rejections.every((r) => r.kind === 'callEnded' && /not voice/.test(r.message)))
        problems.push('a rejection does not say why');
      if (state!.rejections.length > 20)
        problems.push(
          `${state!.rejections.length} rejections kept for ${payloads.length} refused signals: the cap of 20 is not applied to callEnded on a text channel`,
        );
      await h.env.sleep('11m');
      const result = await h.platform.result(conv);
      if (
        result.finalFields.first_name !== 'Kept' ||
        result.finalFields.email !== email ||
        Object.keys(result.finalFields).length !== 2
      ) {
        problems.push(
          `refused callEnded signals still changed the fields: ${JSON.stringify(result.finalFields).slice(0, 300)}`,
        );
      }
      if (result.finalSummary !== 'Kept summary')
        problems.push(
          `refused callEnded signals still changed the summary: ${JSON.stringify(result.finalSummary)?.slice(0, 100)}`,
        );
      const contact = h.emulator.contacts(ACME.accountId).find((c) => c.properties.email === email);
      if (contact?.properties.firstname !== 'Kept')
        problems.push(`HubSpot got the refused values: firstname ${JSON.stringify(contact?.properties.firstname)}`);
      assert.deepEqual(problems, []);
    });
  });

  test('more than 200 distinct fields over many messages: the excess is refused, nothing else is lost, continue-as-new keeps working', async () => {
    const conv = conversation('chat', [action()], { options: { historyEventsBeforeContinueAsNew: 40 } });
    const email = `many.fields.${process.pid}@example.com`;
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email } });
      // 100 messages of 3 new fields each: every message is valid on its own (at most 200 fields), but
      // together they would exceed what a conversation may hold (200 distinct fields), which the next
      // run's input could no longer carry. Messages past the limit are refused, with the reason.
      for (let i = 0; i < 100; i++) {
        await h.platform.recordMessage(conv, {
          from: 'customer',
          fields: Object.fromEntries(Array.from({ length: 3 }, (_, j) => [`f_${i}_${j}`, `v${i}.${j}`])),
        });
      }
      await h.env.sleep('11m');
      const result = await h.platform.result(conv);
      assert.equal(result.status, 'ended');
      assert.ok(result.runsBefore >= 1, `never continued as new (${result.runsBefore})`);
      // email + 66 messages × 3 = 199 fields; the 67th message would make 202.
      assert.equal(Object.keys(result.finalFields).length, 199);
      assert.equal(result.messageCount, 67);
      assert.ok(result.rejections.length > 0);
      for (const r of result.rejections)
        assert.match(
          r.message,
          /^message signal refused: fields: this would bring the conversation to 202 distinct fields; at most 200$/,
        );
      assert.equal(result.outcomes['hubspot-upsert']?.[0]?.result, 'created');
    });
  });
});
