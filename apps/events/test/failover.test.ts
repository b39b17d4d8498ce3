import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resultsShard } from '@vision/results-stream';
import { expectUninterrupted, feed, SHARDS, startFailoverSite, type FailoverSite } from './failover-site';
import { waitFor } from './harness';

describe('failover: the owner of a shard is killed mid-stream', () => {
  let site: FailoverSite;

  beforeEach(async () => {
    site = await startFailoverSite('failover', 1500);
  });

  afterEach(async () => {
    await site?.stop();
  });

  it('loses no event: the events stream holds each once, in capture order; repeats carry the same id', async () => {
    const victim = (await site.owner(resultsShard(site.cams[0], SHARDS))) as 'a' | 'b';
    const survivor = victim === 'a' ? 'b' : 'a';
    const streams = await feed(site, (i) => {
      if (i === 30) site.instances.get(victim)!.proc.kill('SIGKILL');
    });
    // The survivor takes the dead instance's shard once its lease expires (1.5 s).
    await waitFor(
      'the survivor to own both shards',
      async () => [await site.owner(0), await site.owner(1)].join(),
      (v) => v === `${survivor},${survivor}`,
    );
    await expectUninterrupted(site, streams);
    expect(await site.instances.get(victim)!.exited).toBe('SIGKILL');
  });
});
