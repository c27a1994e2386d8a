// The per-account pacer: calls counted from sent to ended, the agent's lane before offline syncs, and a
// waiting call that gives up with its caller without taking a slot.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer } from '../src/hubspot/pacer';

describe('the per-account pacer', { timeout: 20_000 }, () => {
  test('the agent’s lane takes the next slot before offline calls that asked earlier', async () => {
    const pacer = new Pacer({ searchPerSecond: 1 });
    const order: string[] = [];
    const first = await pacer.acquire('search');
    const offline = pacer.acquire('search', undefined, 'offline').then((release) => {
      order.push('offline');
      return release;
    });
    const agent = pacer.acquire('search', undefined, 'agent').then((release) => {
      order.push('agent');
      return release;
    });
    assert.equal(pacer.waiting, 2);
    first();
    const releaseAgent = await agent;
    assert.deepEqual(order, ['agent']);
    releaseAgent();
    (await offline)();
    assert.deepEqual(order, ['agent', 'offline']);
  });

  test('a slot is not freed before its call ends, and a waiting caller that gives up takes none', async () => {
    const pacer = new Pacer({ perTenSeconds: 1 });
    const held = await pacer.acquire('general');
    assert.equal(pacer.inFlight, 1);
    const giveUp = new AbortController();
    const waiting = pacer.acquire('general', giveUp.signal).then(
      () => 'granted',
      (e: unknown) => (e as Error).name,
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(pacer.waiting, 1, 'nothing frees the slot while the call is out');
    giveUp.abort();
    assert.equal(await waiting, 'AbortError');
    assert.equal(pacer.waiting, 0);
    held();
    assert.equal(pacer.inFlight, 0);
  });

  test('an unlimited account never waits', async () => {
    const pacer = new Pacer({});
    const releases = await Promise.all(Array.from({ length: 50 }, () => pacer.acquire('search')));
    assert.equal(pacer.inFlight, 50);
    for (const r of releases) r();
    assert.equal(pacer.inFlight, 0);
  });
});
