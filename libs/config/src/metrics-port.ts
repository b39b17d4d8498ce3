import type { AppConfig } from './config';

/** Each role's METRICS_PORT when unset: distinct, so an edge, a worker and the gateway can share a host. */
const METRICS_PORTS = { edge: 9464, server: 9464, worker: 9465, gateway: 9466, events: 9467 } as const;
type Role = keyof typeof METRICS_PORTS;

/** The ops port a role listens on, and whether the operator chose it (a default that is taken may move). */
export function metricsPortFor(
  config: Pick<AppConfig, 'metricsPort'>,
  role: Role,
): { port: number; explicit: boolean } {
  return config.metricsPort === undefined
    ? { port: METRICS_PORTS[role], explicit: false }
    : { port: config.metricsPort, explicit: true };
}
