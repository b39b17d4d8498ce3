export { iou, type Box } from './geometry';
export { EVENT_KINDS, RuleError, validateRule, type Rule, type RuleContext } from './site-rules';
export { parseSiteFile } from './site-file';
export type { SiteEvent } from './site-event';
export { ByteTracker } from './tracker';
export { CameraPipeline } from './camera-pipeline';
export { startEventsRuntime } from './events-runtime';
