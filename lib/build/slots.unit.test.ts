import { describe, expect, it } from 'vitest';
import { BuildSlots } from './slots.js';

const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 10));
  return done;
};

describe('BuildSlots', () => {
  it('never lets one owner hold every slot: another owner’s build starts at once', async () => {
    const slots = new BuildSlots(2);
    const a1 = await slots.acquire('mallory');
    const a2 = slots.acquire('mallory'); // over mallory's share: waits
    expect(await settled(a2)).toBe(false);
    const v = slots.acquire('victim');
    expect(await settled(v)).toBe(true);
    (await v)();
    a1();
    expect(await settled(a2)).toBe(true);
  });

  it('runs at most `concurrency` builds, serving waiters in order as slots free', async () => {
    const slots = new BuildSlots(4);
    const held = await Promise.all(['a', 'b', 'c', 'd'].map((o) => slots.acquire(o)));
    const order: string[] = [];
    const waiting = ['e', 'f'].map((o) => slots.acquire(o).then((release) => (order.push(o), release)));
    expect(await settled(Promise.race(waiting))).toBe(false);
    held[0]!();
    held[1]!();
    await Promise.all(waiting);
    expect(order).toEqual(['e', 'f']);
  });

  it('gives a slot up when its wait is abandoned', async () => {
    const slots = new BuildSlots(1);
    const release = await slots.acquire('a');
    const abort = new AbortController();
    const gaveUp = slots.acquire('b', abort.signal);
    abort.abort();
    await expect(gaveUp).rejects.toThrow();
    release();
    expect(await settled(slots.acquire('c'))).toBe(true);
  });
});
