import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { processEnv } from '@vision/config';
import { writeBackupFile } from './state-backup/backup-file';
import { captureSite } from './state-backup/capture';
import { connectState, exitWith, withFileOptions } from './state-backup/cli-common';
import { readSiteFiles, siteFilePaths, type FileOptions } from './state-backup/site-files';

/**
 * `npm run backup -- --out <dir|file>`: the site's state in Redis (REDIS_URL, REDIS_PREFIX), its
 * cameras file, site file and `.env`, in one file with a manifest. docs/backup.md.
 */
async function main(): Promise<void> {
  const opts = withFileOptions(
    new Command('backup')
      .description("Back up the site's state, cameras file, site file and .env into one file")
      .requiredOption('--out <dir|file>', 'the backup file, or a directory to create a dated one in'),
  )
    .parse()
    .opts<FileOptions & { out: string }>();
  const env = processEnv();
  const files = readSiteFiles(siteFilePaths(opts, env));
  const { redis, prefix } = await connectState(env, 'backup');
  try {
    const backup = await captureSite(redis, prefix, files);
    const out = outputPath(opts.out, prefix, backup.manifest.createdAt);
    const bytes = writeBackupFile(out, backup);
    const t = backup.manifest.tallies;
    console.log(out);
    console.error(
      `backed up ${t.keys} keys (${t.events} events, ${t.rules} API rules, counts of ${t.counts} cameras, ` +
        `${t.checkpoints} checkpoints, ${t.revocations} revocations, ${t.bulkJobs} bulk jobs) and ` +
        `${files.map((f) => f.role).join(', ') || 'no'} files at schema version ${backup.manifest.schemaVersion}: ` +
        `${bytes} bytes`,
    );
  } finally {
    redis.disconnect();
  }
}

/** `--out` as given, or a file named after the prefix and time inside it when it is a directory. */
function outputPath(out: string, prefix: string, createdAt: string): string {
  if (!(out.endsWith('/') || (existsSync(out) && statSync(out).isDirectory()))) return out;
  return join(out, `${prefix.replace(/:/g, '_')}-${createdAt.replace(/[:.]/g, '-')}.vbackup`);
}

main().catch((err: unknown) => exitWith('backup', err));
