// planContactSync: the decision table of docs/CONTACT_SYNC.md, row by row, without any server.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { actionConfigSchema, type ActionConfig } from '../src/action/config';
import { planContactSync, resolveLookupEmail, type ContactLookup } from '../src/action/plan';
import { propertiesToRead, setBySomeoneElse } from '../src/action/write-rules';
import type { PropertyVersion } from '../src/action/convergence';
import { NOTE_BODY_LIMIT, TRUNCATION_MARKER, noteReference, renderSummaryNote } from '../src/action/note';

const config = (over: Partial<ActionConfig> = {}): ActionConfig =>
  actionConfigSchema.parse({
    id: 'a1',
    name: 'Upsert',
    intent: 'save the customer',
    offlineSync: true,
    hubspotAccountId: 'acme',
    allowCreate: true,
    allowUpdateExisting: true,
    fieldMappings: [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name' },
      { hubspotProperty: 'phone', astraField: 'phone' },
      { hubspotProperty: 'message', astraField: 'summary' },
    ],
    ...over,
  });

const fields = { email: 'Jane@Example.com', first_name: 'Jane', phone: '   ', company: 'unmapped' };
const notFound: ContactLookup = { found: false };
const ours: ContactLookup = { found: true, contactId: '7', ours: true, properties: {} };
const theirs: ContactLookup = { found: true, contactId: '8', ours: false, properties: {} };

describe('planContactSync: the decision table', () => {
  // [case, config, lookup, expected write kind, note?, outcome]
  const rows: Array<[string, Partial<ActionConfig>, ContactLookup, 'create' | 'update' | 'none', string]> = [
    ['not found, allowCreate ON', {}, notFound, 'create', 'created'],
    ['not found, allowCreate OFF', { allowCreate: false }, notFound, 'none', 'skipped'],
    ['found, ours, allowCreate ON', { allowUpdateExisting: false }, ours, 'update', 'updated'],
    ['found, not ours, allowUpdateExisting ON', { allowCreate: false }, theirs, 'update', 'updated'],
    ['found, ours but allowCreate OFF, allowUpdateExisting ON', { allowCreate: false }, ours, 'update', 'updated'],
    ['found, not ours, allowUpdateExisting OFF', { allowUpdateExisting: false }, theirs, 'none', 'note_only'],
    [
      'found, ours but allowCreate OFF, allowUpdateExisting OFF',
      { allowCreate: false, allowUpdateExisting: false },
      ours,
      'none',
      'note_only',
    ],
  ];
  for (const [name, over, lookup, kind, result] of rows) {
    for (const summary of ['Jane wants a demo.', undefined]) {
      test(`${name}, ${summary ? 'with' : 'without'} a summary`, () => {
        const plan = planContactSync({ config: config(over), fields, summary, lookup });
        assert.equal(plan.contact.kind, kind);
        const expectNote = summary !== undefined && result !== 'skipped';
        assert.equal(plan.note, expectNote);
        const expectResult = !summary && result === 'note_only' ? 'skipped' : result;
        assert.equal(plan.outcome.result, expectResult);
        assert.ok(plan.outcome.reason.length > 10);
        if (plan.contact.kind === 'create') {
          assert.deepEqual(plan.contact.properties, {
            email: 'Jane@Example.com',
            firstname: 'Jane',
            ...(summary ? { message: summary } : {}),
          });
        }
        if (plan.contact.kind === 'update') {
          assert.equal(plan.contact.contactId, (lookup as { contactId: string }).contactId);
          // The lookup email is never rewritten; empty values are never sent; the summary property follows the rules.
          assert.deepEqual(plan.contact.properties, { firstname: 'Jane', ...(summary ? { message: summary } : {}) });
          assert.deepEqual(plan.outcome.propertiesWritten, Object.keys(plan.contact.properties));
        }
        if (plan.contact.kind === 'none') assert.deepEqual(plan.outcome.propertiesWritten, []);
      });
    }
  }

  test('empty, whitespace and null values are never sent', () => {
    const plan = planContactSync({
      config: config(),
      fields: { email: 'a@b.co', first_name: '', phone: null },
      summary: '  ',
      lookup: notFound,
    });
    assert.deepEqual(plan.contact, { kind: 'create', properties: { email: 'a@b.co' } });
    assert.equal(plan.note, false, 'a whitespace summary writes no note');
  });

  test('found with nothing to write but a summary: only the note', () => {
    const plan = planContactSync({ config: config(), fields: { email: 'a@b.co' }, summary: undefined, lookup: theirs });
    assert.equal(plan.contact.kind, 'none');
    assert.equal(plan.outcome.result, 'skipped');
  });
});

describe('resolveLookupEmail', () => {
  test('missing, blank and invalid emails are skipped with the reason', () => {
    assert.deepEqual(resolveLookupEmail(config(), { email: ' x@example.org ' }), { ok: true, email: 'x@example.org' });
    for (const email of [undefined, null, '', '   ', 'not-an-email', 'a@b', 'a b@c.de', '<a@b.co>']) {
      const r = resolveLookupEmail(config(), { email: email as string | null });
      assert.equal(r.ok, false, `"${email}" was accepted`);
      assert.match((r as { reason: string }).reason, /"email"/);
      assert.ok(!(r as { reason: string }).reason.includes('not-an-email'), 'the reason must not echo the value');
    }
  });
});

describe('summary note body', () => {
  test('escapes HTML and keeps line breaks', () => {
    const body = renderSummaryNote('<script>alert("x")</script>\nR&D', 'wf:a1');
    assert.ok(body.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>R&amp;D'));
    assert.ok(!body.includes('<script>'));
    assert.ok(body.includes(noteReference('wf:a1')));
  });

  test('is cut to HubSpot’s limit with a visible marker, whatever the content', () => {
    for (const unit of ['a', '<&>', '😀', 'é\n']) {
      const body = renderSummaryNote(unit.repeat(70_000), 'wf:a1');
      assert.ok(body.length <= NOTE_BODY_LIMIT, `${body.length} > ${NOTE_BODY_LIMIT}`);
      assert.ok(body.includes('[summary truncated]'));
      assert.ok(body.length > NOTE_BODY_LIMIT - 100, 'the cut keeps as much as fits');
      assert.ok(!/&[a-z]*…/.test(body), 'cut inside an HTML entity');
    }
    assert.ok(!renderSummaryNote('short', 'k').includes(TRUNCATION_MARKER));
  });

  test('the reference is stable per (conversation, action), differs between them, and is one search token', () => {
    assert.equal(noteReference('wf-1:a1'), noteReference('wf-1:a1'));
    assert.notEqual(noteReference('wf-1:a1'), noteReference('wf-1:a2'));
    assert.match(noteReference('conversation-abc:upsert'), /^[a-z0-9]+$/);
  });
});

describe('write rules: who set a value since our last write', () => {
  const ours = (v: PropertyVersion) => v.sourceType === 'INTEGRATION' && v.sourceId === '4242';
  const app = (value: string): PropertyVersion => ({ value, sourceType: 'INTEGRATION', sourceId: '4242' });
  const person = (value: string): PropertyVersion => ({
    value,
    sourceType: 'CRM_UI',
    sourceId: 'userId:7',
    updatedByUserId: 7,
  });
  const other = (value: string): PropertyVersion => ({ value, sourceType: 'INTEGRATION', sourceId: '999' });
  const imported = (value: string): PropertyVersion => ({ value, sourceType: 'IMPORT' });

  test('newest first: only what came after our newest write counts', () => {
    assert.equal(setBySomeoneElse([app('b'), person('a')], true, ours), undefined);
    assert.equal(setBySomeoneElse([person('c'), app('b'), person('a')], true, ours), 'person');
    assert.equal(setBySomeoneElse([other('c'), app('b')], true, ours), 'another-integration');
    assert.equal(setBySomeoneElse([imported('c'), person('x'), app('b')], true, ours), 'other-source');
    // A person who cleared our value: the empty value is theirs.
    assert.equal(setBySomeoneElse([person(''), app('b')], false, ours), 'person');
    // Never written by us: a value is someone else's, even without history; no value and no history is free.
    assert.equal(setBySomeoneElse([person('a')], true, ours), 'person');
    assert.equal(setBySomeoneElse([], true, ours), 'other-source');
    assert.equal(setBySomeoneElse([], false, ours), undefined);
  });

  test('the plan writes what the rules allow and lists the rest; created contacts get everything', () => {
    const config = actionConfigSchema.parse({
      id: 'a',
      name: 'a',
      intent: 'a',
      offlineSync: false,
      hubspotAccountId: 'acme',
      allowCreate: true,
      allowUpdateExisting: true,
      fieldMappings: [
        { hubspotProperty: 'email', astraField: 'email', writeRule: 'fillIfEmpty' },
        { hubspotProperty: 'firstname', astraField: 'first_name', writeRule: 'fillIfEmpty' },
        { hubspotProperty: 'phone', astraField: 'phone', writeRule: 'keepPersonEdits' },
        { hubspotProperty: 'company', astraField: 'company' },
      ],
    });
    assert.deepEqual(propertiesToRead(config.fieldMappings), { values: ['firstname', 'phone'], history: ['phone'] });
    const fields = { email: 'a@b.example', first_name: 'Ann', phone: '+1 555', company: 'Acme' };
    const lookup: ContactLookup = {
      found: true,
      contactId: '1',
      ours: false,
      properties: {},
      current: { firstname: { hasValue: true }, phone: { hasValue: true, setBySomeoneElse: 'person' } },
    };
    const plan = planContactSync({ config, fields, lookup });
    assert.deepEqual(plan.contact, { kind: 'update', contactId: '1', properties: { company: 'Acme' } });
    assert.deepEqual(plan.outcome.propertiesLeft, [
      { property: 'firstname', rule: 'fillIfEmpty', why: 'has-a-value' },
      { property: 'phone', rule: 'keepPersonEdits', why: 'set-by-a-person' },
    ]);
    // Not read (a lookup without the current values): a ruled value is left, never written blind.
    assert.deepEqual(
      planContactSync({ config, fields, lookup: { ...lookup, current: undefined } }).outcome.propertiesLeft?.map(
        (l) => l.why,
      ),
      ['not-read', 'not-read'],
    );
    const created = planContactSync({ config, fields, lookup: { found: false } });
    assert.deepEqual(Object.keys(created.contact.kind === 'create' ? created.contact.properties : {}).sort(), [
      'company',
      'email',
      'firstname',
      'phone',
    ]);
    assert.equal(created.outcome.propertiesLeft, undefined);
  });
});
