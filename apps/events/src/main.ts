import { loadEventsConfig } from '@vision/config';
import { runMain } from '@vision/runtime';
import { startEventsRuntime } from '@vision/events';

/** `npm run start:events`: site events (zones, lines, tracks) from the results stream; needs REDIS_URL. */
runMain('events', async (config, log) => {
  const events = await startEventsRuntime(config, loadEventsConfig(), log);
  return () => events.stop();
});
