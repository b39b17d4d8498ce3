import { Command } from 'commander';
import { processEnv } from '@vision/config';
import { readBackupFile } from './state-backup/backup-file';
import { connectState, exitWith, withFileOptions } from './state-backup/cli-common';
import { restoreSite } from './state-backup/restore-site';
import { siteFilePaths, type FileOptions } from './state-backup/site-files';
import { TALLIES } from './state-backup/state-keys';

/**
 * `npm run restore -- --from <file>`: puts a backup's state and files into this site (REDIS_URL,
 * REDIS_PREFIX, CAMERAS_FILE, EVENTS_SITE_FILE, `.env`), all or nothing. docs/backup.md.
 */
async function main(): Promise<void> {
  const opts = withFileOptions(
    new Command('restore')
      .description('Restore a backup into a fresh site (stop its events service and gateway first)')
      .requiredOption('--from <file>', 'the backup file')
      .option('--force', "replace the site's state keys and files that differ", false)
      .option('--check', 'only read and check the file; change nothing', false),
  )
    .parse()
    .opts<FileOptions & { from: string; force: boolean; check: boolean }>();
  const env = processEnv();
  // Checked whole before anything is touched: a corrupt or newer file changes nothing.
  const backup = readBackupFile(opts.from);
  if (opts.check) {
    console.log(JSON.stringify(backup.manifest, null, 2));
    return;
  }
  const { redis, prefix } = await connectState(env, 'restore');
  try {
    const tallies = await restoreSite(backup, {
      redis,
      prefix,
      filePaths: siteFilePaths(opts, env),
      force: opts.force,
    });
    const expected = backup.manifest.tallies;
    const differ = TALLIES.filter((t) => tallies[t] !== expected[t]);
    console.log(JSON.stringify({ restored: tallies, files: backup.files.map((f) => f.role) }));
    if (differ.length)
      console.error(
        `restore: the restored keys differ from the manifest in ${differ.join(', ')} ` +
          '(keys with a TTL may have expired since the backup)',
      );
  } finally {
    redis.disconnect();
  }
}

main().catch((err: unknown) => exitWith('restore', err));
