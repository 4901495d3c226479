/** One JSON logger per daemon (pino), level from --v / KUBEPLANE_LOG_LEVEL. */
import { type Logger, pino } from "pino";

export type { Logger };

export function createLogger(component: string, level = process.env.KUBEPLANE_LOG_LEVEL ?? "info"): Logger {
  return pino({ name: component, level, base: { component, pid: process.pid } });
}

/** a logger that drops everything, for in-process tests */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
