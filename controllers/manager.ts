/**
 * `kubeplane controller-manager`: runs the selected controllers with shared informers,
 * one leader election for all of them (--leader-elect), workqueue metrics and /healthz.
 */
import { hostname } from "node:os";
import { createLogger, type Logger } from "../cli/logger.js";
import { EventRecorder } from "../client/events.js";
import { LeaderElector, loadClusterConnection, RestClient, SharedInformerFactory } from "../client/index.js";
import { promWorkQueueMetrics } from "../client/workqueue-metrics.js";
import { newMetricsRegistry } from "../metrics/prom.js";
import { serveOperatorEndpoints } from "../metrics/serve.js";
import { selectControllers } from "./registry.js";
import { type ControllerContext, type ControllerOptions, DEFAULT_CONTROLLER_OPTIONS } from "./types.js";
import "./all.js";

export interface ControllerManagerOptions extends Partial<ControllerOptions> {
  kubeconfig?: string;
  /** names as in --controllers; default all */
  controllers?: string[];
  leaderElect?: boolean;
  /** "127.0.0.1:10257"; "" disables */
  bindAddress?: string;
  logger?: Logger;
}

export interface RunningControllerManager {
  port?: number;
  stop(): Promise<void>;
}

export async function run(opts: ControllerManagerOptions): Promise<RunningControllerManager> {
  const log = opts.logger ?? createLogger("controller-manager");
  const options: ControllerOptions = {
    ...DEFAULT_CONTROLLER_OPTIONS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  };
  const controllers = selectControllers(opts.controllers ?? ["*"]);
  const client = new RestClient(loadClusterConnection({ kubeconfig: opts.kubeconfig }), {
    component: "kube-controller-manager",
  });
  const metrics = newMetricsRegistry();
  const informers = new SharedInformerFactory(client, { logger: log });
  const ctx: ControllerContext = {
    client,
    informers,
    recorder: (component) =>
      new EventRecorder(client, {
        component,
        onError: (err) => log.warn({ err: String(err), component }, "event not recorded"),
      }),
    log,
    metrics,
    workqueueMetrics: promWorkQueueMetrics(metrics),
    options,
  };
  const stop = new AbortController();
  let leading = !opts.leaderElect;
  const operator =
    opts.bindAddress === ""
      ? undefined
      : await serveOperatorEndpoints({
          bindAddress: opts.bindAddress ?? "127.0.0.1:10257",
          registry: metrics,
          healthy: () => true,
          ready: () => leading,
        });

  const runAll = async (signal: AbortSignal) => {
    leading = true;
    log.info({ controllers: controllers.map((c) => c.name) }, "starting controllers");
    informers.start();
    await Promise.all(
      controllers.map((c) =>
        c
          .run(
            {
              ...ctx,
              log: (log as Logger & { child?: (b: object) => Logger }).child?.({ controller: c.name }) ?? log,
            },
            signal,
          )
          .catch((err: unknown) => {
            log.error(
              { controller: c.name, err: err instanceof Error ? err.stack : String(err) },
              "controller failed",
            );
          }),
      ),
    );
  };

  let done: Promise<void>;
  if (opts.leaderElect) {
    const elector = new LeaderElector({
      client,
      namespace: "kube-system",
      name: "kube-controller-manager",
      identity: `${hostname()}_${process.pid}`,
      callbacks: {
        onStartedLeading: (signal) => runAll(signal),
        onStoppedLeading: () => {
          leading = false;
          log.warn("lost leadership");
        },
      },
      logger: log,
    });
    done = elector.run(stop.signal);
  } else {
    done = runAll(stop.signal);
  }
  log.info({ metrics: operator?.url }, "controller-manager started");
  return {
    port: operator?.port,
    async stop() {
      stop.abort();
      await done;
      await informers.stop();
      await operator?.close();
      await client.close();
      log.info("controller-manager stopped");
    },
  };
}
