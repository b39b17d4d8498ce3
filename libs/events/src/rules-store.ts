import { readFile } from 'node:fs/promises';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { TIMINGS, type EventsConfig } from '@vision/config';
import type { ResultsEntry } from '@vision/results-stream';
import { FileContent, watchFile } from '@vision/runtime';
import type { EventsKeys } from './events-keys';
import { EMPTY_SITE, parseSiteFile, type SiteFile } from './site-file';
import { RuleError, ruleView, validateRule, type Rule, type RuleContext, type WebhookSpec } from './site-rules';

/** Models remembered from the results stream: a bound, since model ids come from workers. */
const MAX_MODELS = 256;
/** Class names remembered per model: a bound against a model that reports ever new names. */
const MAX_NAMES = 4096;

/**
 * Every camera's rules: the site file's (re-read when it changes; a bad file is refused and the
 * last good one stays) and those set through the API (kept in Redis, so every instance sees them).
 * A camera is known when the site file lists it or it was seen on the results stream; a class is
 * known when the site file declares it for the camera's model or it was seen in that model's results.
 */
export class RulesStore {
  private site: SiteFile = EMPTY_SITE;
  private unwatchSite: (() => void) | undefined;
  private api = new Map<string, Rule[]>();
  private apiVersion: string | null = null;
  private readonly seenModel = new Map<string, string>();
  private readonly seenNames = new Map<string, Set<string>>();
  private merged = new Map<string, Rule[]>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: EventsKeys,
    private readonly cfg: EventsConfig,
    private readonly log: Logger,
  ) {}

  /** Loads everything; an invalid site file fails the start (with the field it names). */
  async start(): Promise<void> {
    await this.refreshSeen();
    const path = this.cfg.siteFile;
    if (path) {
      const text = await readFile(path, 'utf8');
      this.loadSite(path, text, true);
      const watched = new FileContent(path, text);
      const options = { pollMs: this.cfg.sitePollMs, settleMs: TIMINGS.fileSettleMs };
      this.unwatchSite = watchFile(watched, options, (next) => {
        // A site file that goes away keeps the last good rules, as a bad one does.
        if (next === undefined) this.log.warn({ file: path }, 'site file gone; the last good one stays');
        else this.loadSite(path, next, false);
      });
    }
    await this.loadApi(true);
    this.timer = setInterval(() => void this.poll(), this.cfg.sitePollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unwatchSite?.();
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  rulesFor(camera: string): readonly Rule[] {
    return this.merged.get(camera) ?? [];
  }

  webhooks(): readonly WebhookSpec[] {
    return this.site.webhooks;
  }

  cameras(): string[] {
    return [...new Set([...this.site.cameras.keys(), ...this.seenModel.keys(), ...this.api.keys()])].sort();
  }

  list(camera: string) {
    return this.rulesFor(camera).map(ruleView);
  }

  /** Records a camera, its model and its class names the first time they appear on the results stream. */
  noteSeen(e: ResultsEntry): void {
    if (
      this.seenModel.get(e.camera) !== e.model &&
      (this.seenModel.has(e.camera) || this.seenModel.size < this.cfg.maxCameras)
    ) {
      this.seenModel.set(e.camera, e.model);
      this.redis.hset(this.keys.seen, e.camera, e.model).catch(() => undefined);
    }
    let names = this.seenNames.get(e.model);
    if (!names) {
      if (this.seenNames.size >= MAX_MODELS) return;
      this.seenNames.set(e.model, (names = new Set()));
    }
    const fresh = Object.values(e.names).filter((n) => !names.has(n));
    if (fresh.length && names.size < MAX_NAMES) {
      for (const n of fresh) names.add(n);
      this.redis.sadd(this.keys.classes(e.model), ...fresh).catch(() => undefined);
    }
  }

  /** Validates and stores a rule set through the API; throws RuleError naming the field. */
  async putRule(camera: string, raw: unknown): Promise<Rule> {
    await this.refreshSeen();
    const id = (raw as { id?: unknown } | null)?.id;
    if (typeof id === 'string' && this.site.cameras.get(camera)?.rules.some((r) => r.id === id)) {
      throw new RuleError('E_BAD_RULE', 'id', `rule ${id} is defined in the site file; change it there`);
    }
    const rule = validateRule(raw, camera, this.context(), '', 'api');
    const current = this.api.get(camera) ?? [];
    if (!current.some((r) => r.id === rule.id) && this.rulesFor(camera).length >= this.cfg.maxRules) {
      throw new RuleError('E_BAD_RULE', 'id', `at most ${this.cfg.maxRules} rules per camera (EVENTS_MAX_RULES)`);
    }
    await this.redis
      .multi()
      .hset(this.keys.rules, JSON.stringify([camera, rule.id]), JSON.stringify(raw))
      .incr(this.keys.rulesVersion)
      .exec();
    await this.loadApi(false);
    return rule;
  }

  async deleteRule(camera: string, id: string): Promise<boolean> {
    const res = await this.redis
      .multi()
      .hdel(this.keys.rules, JSON.stringify([camera, id]))
      .incr(this.keys.rulesVersion)
      .exec();
    await this.loadApi(false);
    return Number(res?.[0]?.[1]) > 0;
  }

  fromSiteFile(camera: string, id: string): boolean {
    return this.site.cameras.get(camera)?.rules.some((r) => r.id === id) ?? false;
  }

  private context(): RuleContext {
    return {
      defaults: this.cfg.ruleDefaults,
      cameraKnown: (c) => this.site.cameras.has(c) || this.seenModel.has(c),
      classesOf: (c) => {
        const model = this.site.cameras.get(c)?.model ?? this.seenModel.get(c);
        if (model === undefined) return undefined;
        const declared = this.site.models.get(model);
        const seen = this.seenNames.get(model);
        return declared || seen ? new Set([...(declared ?? []), ...(seen ?? [])]) : undefined;
      },
    };
  }

  private async poll(): Promise<void> {
    try {
      await this.loadApi(false);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'rules not refreshed');
    }
  }

  private loadSite(path: string, text: string, initial: boolean): void {
    try {
      this.site = parseSiteFile(text, path, {
        seenModelOf: (c) => this.seenModel.get(c),
        seenClasses: (m) => this.seenNames.get(m),
        defaults: this.cfg.ruleDefaults,
        maxRules: this.cfg.maxRules,
        webhookHosts: this.cfg.webhooks.hosts,
        webhookSecret: this.cfg.webhooks.secret,
      });
    } catch (err) {
      if (initial) throw err;
      const e = err as RuleError;
      this.log.error(
        { code: e.code, field: e.field, err: e.message, file: path },
        'site file refused; the last good one stays',
      );
      return;
    }
    this.log.info(
      { file: path, cameras: this.site.cameras.size, webhooks: this.site.webhooks.length },
      'site file loaded',
    );
    this.merge();
  }

  private async loadApi(force: boolean): Promise<void> {
    const version = await this.redis.get(this.keys.rulesVersion);
    if (!force && version === this.apiVersion) return;
    this.apiVersion = version;
    const stored = await this.redis.hgetall(this.keys.rules);
    const api = new Map<string, Rule[]>();
    const ctx = this.context();
    for (const [field, spec] of Object.entries(stored)) {
      try {
        const [camera] = JSON.parse(field) as [string, string];
        const rule = validateRule(JSON.parse(spec), camera, ctx, `rules[${field}]`, 'api');
        api.set(
          camera,
          [...(api.get(camera) ?? []), rule].sort((a, b) => (a.id < b.id ? -1 : 1)),
        );
      } catch (err) {
        this.log.warn({ field, err: (err as Error).message }, 'stored API rule no longer valid; ignored');
      }
    }
    this.api = api;
    this.merge();
  }

  private async refreshSeen(): Promise<void> {
    const seen = await this.redis.hgetall(this.keys.seen);
    for (const [camera, model] of Object.entries(seen)) this.seenModel.set(camera, model);
    for (const model of new Set(Object.values(seen))) {
      const names = await this.redis.smembers(this.keys.classes(model));
      const set = this.seenNames.get(model) ?? new Set<string>();
      for (const n of names) set.add(n);
      this.seenNames.set(model, set);
    }
  }

  private merge(): void {
    const merged = new Map<string, Rule[]>();
    for (const [camera, { rules }] of this.site.cameras) if (rules.length) merged.set(camera, [...rules]);
    for (const [camera, rules] of this.api)
      merged.set(camera, [...(merged.get(camera) ?? []), ...rules.filter((r) => !this.fromSiteFile(camera, r.id))]);
    this.merged = merged;
    for (const fn of this.listeners) fn();
  }
}
