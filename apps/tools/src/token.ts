import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { mintToken, RedisRevocations, type SigningKey } from '@vision/auth';
import { probeRedisTarget } from '@vision/redis';
import { loadConfig, processEnv } from '@vision/config';

/**
 * `npm run token -- --sub gate-3 --streams 'gate-*' --models general --ttl 30d`: signs a token the
 * site's edges accept, with the site's key (JWT_SECRET; or `--key` a private key in PEM or JWK for
 * sites whose edges verify RS256/ES256 from JWKS_FILE / JWKS_URL) and its JWT_ISSUER / JWT_AUDIENCE,
 * and prints it. `npm run token -- --revoke <jti> --until <ISO time>` revokes one through the
 * state Redis (STATE_REDIS_URL, the first REDIS_URL, or its sentinel master), and answers only once
 * the revocation is on Redis' disk and replicas.
 * docs/tokens.md has the claims and the key set-ups.
 */
/** How long Redis may take to put a revocation on disk and its replicas before the tool reports failure. */
const PERSIST_TIMEOUT_MS = 30_000;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function duration(v: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(v.trim());
  if (!m || Number(m[1]) <= 0) throw new InvalidArgumentError('expected a duration such as 3600, 90m, 12h or 30d');
  return Number(m[1]) * UNITS[m[2] || 's'];
}

const list = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

async function main(): Promise<void> {
  const o = new Command('token')
    .description("Sign a token with the site's key, or revoke one")
    .option('--sub <subject>', 'who the token is for (a camera, a gateway, an app); limits and fair share key on it')
    .option(
      '--streams <list>',
      'stream ids it may send, comma-separated; a trailing * matches a prefix (default: any)',
      list,
    )
    .option('--models <list>', 'model ids it may choose, comma-separated (default: any)', list)
    .option(
      '--scope <list>',
      'scopes, comma-separated: cameras:read, cameras:write, events:read, events:write, gateway',
      list,
    )
    .option('--ttl <duration>', 'lifetime: seconds, or 90m, 12h, 30d', duration, duration('1d'))
    .option('--key <file>', 'private key (PKCS#8 PEM or JWK) for RS256/ES256 sites; default: JWT_SECRET')
    .option('--alg <alg>', 'algorithm of --key: RS256 or ES256', 'ES256')
    .option('--kid <id>', "the key's id in the site's JWKS")
    .option('--revoke <jti>', 'revoke the token with this id (printed when it was signed) instead of signing one')
    .option('--until <time>', 'with --revoke: when the revoked token would have expired (ISO 8601)')
    .parse()
    .opts<{
      sub?: string;
      streams?: string[];
      models?: string[];
      scope?: string[];
      ttl: number;
      key?: string;
      alg: string;
      kid?: string;
      revoke?: string;
      until?: string;
    }>();
  const config = loadConfig(processEnv());
  if (o.revoke) {
    const target = config.stateRedisTarget;
    if (!target)
      throw new Error(
        '--revoke needs REDIS_URL, STATE_REDIS_URL or REDIS_SENTINELS: the edges read revocations from Redis',
      );
    const until = o.until ? Date.parse(o.until) : Date.now() + 366 * 86_400_000;
    if (!Number.isFinite(until)) throw new Error('--until must be an ISO 8601 time');
    // A wrong sentinel set or master name is said once, by name, instead of as a failed command.
    await probeRedisTarget(target, config.stateRedisSetting);
    const list = new RedisRevocations({ target, prefix: config.redisPrefix });
    try {
      const persisted = await list.revokeDurably(o.revoke, until, PERSIST_TIMEOUT_MS);
      console.error(
        `revoked ${o.revoke} until ${new Date(until).toISOString()}; on disk (${persisted.disk}) and on ` +
          `${persisted.replicas} replica(s); open sockets with it close within seconds`,
      );
    } finally {
      await list.close();
    }
    return;
  }
  if (!o.sub) throw new Error('--sub is required');
  if (o.alg !== 'RS256' && o.alg !== 'ES256') throw new Error('--alg must be RS256 or ES256');
  let key: SigningKey;
  if (o.key) key = { privateKey: readFileSync(o.key, 'utf8'), alg: o.alg, ...(o.kid ? { kid: o.kid } : {}) };
  else if (config.auth.secret) key = { secret: config.auth.secret };
  else
    throw new Error(
      'set JWT_SECRET (the secret the edges verify with), or pass --key with the private key of the JWKS the edges use',
    );
  const { token, tokenId, expiresAt } = await mintToken(
    {
      subject: o.sub,
      ttlS: o.ttl,
      streams: o.streams,
      models: o.models,
      scopes: o.scope,
      ...(config.auth.issuer ? { issuer: config.auth.issuer } : {}),
      ...(config.auth.audience ? { audience: config.auth.audience } : {}),
    },
    key,
  );
  console.log(token);
  console.error(
    `jti ${tokenId}, expires ${new Date(expiresAt).toISOString()} (npm run token -- --revoke ${tokenId} revokes it)`,
  );
}

main().catch((err: unknown) => {
  const code = (err as { code?: unknown }).code;
  console.error(
    `token: ${typeof code === 'string' ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(2);
});
