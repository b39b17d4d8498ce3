import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkWebhookUrl } from '@vision/webhooks';
import {
  fieldPath,
  RuleError,
  siteFileSchema,
  validateRule,
  type Rule,
  type RuleContext,
  type WebhookSpec,
} from './site-rules';

/** The site file, validated: rules per camera, declared class names per model, webhooks. */
export interface SiteFile {
  cameras: Map<string, { model: string | undefined; rules: Rule[] }>;
  models: Map<string, Set<string>>;
  webhooks: WebhookSpec[];
}

export const EMPTY_SITE: SiteFile = { cameras: new Map(), models: new Map(), webhooks: [] };

/** Site files are small; anything larger is a mistake. */
const MAX_SITE_FILE_BYTES = 1024 * 1024;

export interface SiteFileOptions {
  /** The seen side of the context: the class names of models seen on the results stream, and cameras' models. */
  seenModelOf(camera: string): string | undefined;
  seenClasses(model: string): ReadonlySet<string> | undefined;
  defaults: RuleContext['defaults'];
  maxRules: number;
  webhookHosts: readonly string[];
  webhookSecret: string | undefined;
}

/**
 * Parses a site file (JSON, or YAML for `.yaml`/`.yml`) and validates every rule and webhook;
 * throws RuleError naming the first bad field (`cameras.gate.rules[1].polygon`).
 */
export function parseSiteFile(text: string, path: string, options: SiteFileOptions): SiteFile {
  if (Buffer.byteLength(text) > MAX_SITE_FILE_BYTES)
    throw new RuleError('E_BAD_RULE', '(root)', `the site file exceeds ${MAX_SITE_FILE_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(extname(path)) ? parseYaml(text, { maxAliasCount: 100 }) : JSON.parse(text);
  } catch (err) {
    throw new RuleError(
      'E_BAD_RULE',
      '(root)',
      `not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const parsed = siteFileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RuleError('E_BAD_RULE', fieldPath(issue.path), issue.message);
  }
  const site = parsed.data;
  const models = new Map(Object.entries(site.models).map(([m, names]) => [m, new Set(names)]));
  const modelOf = (camera: string) => site.cameras[camera]?.model ?? options.seenModelOf(camera);
  const ctx: RuleContext = {
    defaults: options.defaults,
    cameraKnown: (camera) => camera in site.cameras,
    classesOf(camera) {
      const model = modelOf(camera);
      if (model === undefined) return undefined;
      const declared = models.get(model);
      const seen = options.seenClasses(model);
      return declared || seen ? new Set([...(declared ?? []), ...(seen ?? [])]) : undefined;
    },
  };
  const cameras = new Map<string, { model: string | undefined; rules: Rule[] }>();
  for (const [camera, spec] of Object.entries(site.cameras)) {
    const base = `cameras.${camera}`;
    if (spec.rules.length > options.maxRules)
      throw new RuleError(
        'E_BAD_RULE',
        `${base}.rules`,
        `at most ${options.maxRules} rules per camera (EVENTS_MAX_RULES)`,
      );
    const rules = spec.rules.map((r, i) => validateRule(r, camera, ctx, `${base}.rules[${i}]`, 'file'));
    const dup = rules.findIndex((r, i) => rules.findIndex((x) => x.id === r.id) !== i);
    if (dup >= 0)
      throw new RuleError('E_BAD_RULE', `${base}.rules[${dup}].id`, `rule id ${rules[dup].id} is used twice`);
    cameras.set(camera, { model: spec.model, rules });
  }
  if (site.webhooks.length && !options.webhookSecret)
    throw new RuleError(
      'E_BAD_RULE',
      'webhooks',
      'webhooks need EVENTS_WEBHOOK_SECRET (at least 32 characters) to sign with',
    );
  const webhooks = site.webhooks.map((webhook, i) => {
    if (site.webhooks.findIndex((other) => other.id === webhook.id) !== i)
      throw new RuleError('E_BAD_RULE', `webhooks[${i}].id`, `webhook id ${webhook.id} is used twice`);
    try {
      return {
        ...webhook,
        url: checkWebhookUrl(webhook.url, { hosts: options.webhookHosts, setting: 'EVENTS_WEBHOOK_HOSTS' }),
      };
    } catch (err) {
      throw new RuleError('E_BAD_RULE', `webhooks[${i}].url`, (err as Error).message);
    }
  });
  return { cameras, models, webhooks };
}
