import { afterEach, describe, expect, it } from 'vitest';
import { resultsShard } from '@vision/results-stream';
import { expectUninterrupted, feed, SHARDS, startFailoverSite, type FailoverSite } from './failover-site';
import { sleep } from '@vision/testing';
import { waitFor } from './harness';

const LEASE_MS = 1500;

describe('failover: an owner stalls past its lease, or hands over on SIGTERM', () => {
  let site: FailoverSite | undefined;

  afterEach(async () => {
    await site?.stop();
    site = undefined;
  });

  it('fences a stalled owner: resumed, it writes nothing; the events are those of an uninterrupted run', async () => {
    site = await startFailoverSite('failover-stall', LEASE_MS);
    const s = site;
    const shard = resultsShard(s.cams[0], SHARDS);
    const victim = (await s.owner(shard)) as 'a' | 'b';
    const survivor = victim === 'a' ? 'b' : 'a';
    const victimProc = s.instances.get(victim)!;

    // The shard's read position must never go back: a resumed stale owner writing its checkpoint would move it back.
    const positions: string[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const pos = await s.r.hget(`${s.prefix}:events:ckpt:${shard}`, 'pos').catch(() => null);
        if (pos !== null && pos !== positions.at(-1)) positions.push(pos);
        await sleep(5);
      }
    })();

    let streams: Awaited<ReturnType<typeof feed>>;
    try {
      streams = await feed(s, async (i) => {
        if (i === 30) victimProc.proc.kill('SIGSTOP');
        if (i === 50) {
          // Alive but stalled past its lease: the other instance takes its shard over, then it resumes.
          await waitFor(
            'the survivor to take the stalled shard',
            () => s.owner(shard),
            (o) => o === survivor,
          );
          victimProc.proc.kill('SIGCONT');
        }
      });
      // The resumed instance learns it lost the lease, then gets a shard back by rebalancing (from the checkpoint).
      await victimProc.waitForLog((l) => l['msg'] === 'shard lease lost' && l['shard'] === shard, 10_000);
      await waitFor(
        'one shard each again',
        async () => [await s.owner(0), await s.owner(1)].sort().join(),
        (v) => v === 'a,b',
      );
    } finally {
      watching = false;
      await watch;
    }
    const seq = (id: string) => id.split('-').map(BigInt) as [bigint, bigint];
    for (let i = 1; i < positions.length; i++) {
      const [pm, ps] = seq(positions[i - 1]);
      const [m, q] = seq(positions[i]);
      expect(m > pm || (m === pm && q > ps), `checkpoint moved back: ${positions[i - 1]} -> ${positions[i]}`).toBe(
        true,
      );
    }
    await expectUninterrupted(s, streams);
    expect(victimProc.proc.exitCode).toBeNull();
  });

  it('hands over on SIGTERM before the lease could expire; the events are those of an uninterrupted run', async () => {
    // A long lease: a takeover before it runs out can only come from the stopping owner giving it back.
    site = await startFailoverSite('failover-term', 6000);
    const s = site;
    const shard = resultsShard(s.cams[0], SHARDS);
    const victim = (await s.owner(shard)) as 'a' | 'b';
    const survivor = victim === 'a' ? 'b' : 'a';
    const victimProc = s.instances.get(victim)!;
    let leaseEnd = 0;
    let termAt = 0;
    const streams = await feed(s, async (i) => {
      if (i !== 30) return;
      leaseEnd = Date.now() + (await s.r.pttl(`${s.prefix}:events:lease:${shard}`));
      termAt = Date.now();
      victimProc.proc.kill('SIGTERM');
    });
    expect(await victimProc.exited).toBe(0);
    const taken = await s.instances
      .get(survivor)!
      .waitForLog(
        (l) => l['msg'] === 'shard acquired' && l['shard'] === shard && (l['time'] as number) > termAt,
        15_000,
      );
    expect(taken['time'] as number).toBeLessThan(leaseEnd);
    expect(victimProc.logs.some((l) => l['msg'] === 'shard released' && l['shard'] === shard)).toBe(true);
    await expectUninterrupted(s, streams);
  });
});
