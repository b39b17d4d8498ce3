import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';

type Manifest = Record<string, unknown>;
interface KeyLine {
  key: string;
  ttlMs: number;
  dump: string;
}

/**
 * Copies a backup with its manifest or key lines changed, and its checksum made right again: a
 * file a tool could have written (a newer release, a Redis that dumped differently), not a
 * damaged one.
 */
export function rewriteBackup(
  from: string,
  to: string,
  manifest: (m: Manifest) => Manifest,
  key: (line: KeyLine) => KeyLine = (line) => line,
): string {
  const lines = gunzipSync(readFileSync(from)).toString('utf8').trimEnd().split('\n');
  lines.pop();
  const body = [
    JSON.stringify(manifest(JSON.parse(lines[0]) as Manifest)),
    ...lines.slice(1).map((line) => {
      const row = JSON.parse(line) as KeyLine | { file: string };
      return JSON.stringify('key' in row ? key(row) : row);
    }),
  ].join('\n');
  const sha256 = createHash('sha256').update(body).digest('hex');
  writeFileSync(to, gzipSync(`${body}\n${JSON.stringify({ end: true, lines: lines.length, sha256 })}\n`));
  return to;
}
