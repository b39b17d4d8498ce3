import { readFileSync } from 'node:fs';
import { Abuse, type AbuseOptions } from '@vision/testing';

/**
 * `node apps/tools/dist/abuse.js '<json>'`: runs a hostile population in its own process
 * (so its CPU is not the measuring process's) until SIGTERM, then prints its stats as one JSON
 * line. JSON: AbuseOptions with `photoPath` instead of `photo`.
 */
async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? '{}') as Omit<AbuseOptions, 'photo'> & { photoPath: string };
  const abuse = new Abuse({ ...o, photo: readFileSync(o.photoPath) });
  await abuse.start();
  console.log(JSON.stringify({ started: true }));
  process.on('SIGTERM', () => {
    console.log(JSON.stringify(abuse.stop()));
    process.exit(0);
  });
}

void main();
