/**
 * What every cluster has from the first start: the four system namespaces and the
 * default/kubernetes Service (first IP of the service range) whose Endpoints and
 * EndpointSlice point at this apiserver.
 */
import type { KubeObject } from "../api/object.js";
import { findResource } from "../api/resources.js";
import { StatusError } from "../api/status.js";
import type { Logger } from "../cli/logger.js";
import type { Registry } from "./registry.js";

const NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

async function ensure(
  registry: Registry,
  group: string,
  version: string,
  resource: string,
  obj: KubeObject,
  sameAs: (cur: KubeObject) => boolean,
): Promise<void> {
  const info = findResource(group, version, resource)!;
  const ns = obj.metadata.namespace;
  const current = await registry.tryGet(info, ns, obj.metadata.name!);
  if (!current) {
    try {
      await registry.create(info, ns, obj, { fieldManager: "kube-apiserver", skipValidation: true });
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) throw e;
    }
    return;
  }
  if (sameAs(current)) return;
  await registry.update(
    info,
    ns,
    obj.metadata.name!,
    (cur) => ({ ...cur, ...obj, metadata: { ...cur.metadata, labels: obj.metadata.labels } }),
    { fieldManager: "kube-apiserver", skipValidation: true },
  );
}

export async function bootstrap(
  registry: Registry,
  cfg: { advertiseAddress: string; securePort: number; firstServiceIP: string; log: Logger },
): Promise<void> {
  for (const name of NAMESPACES) {
    await ensure(registry, "", "v1", "namespaces", { metadata: { name } }, () => true);
  }
  await ensure(
    registry,
    "",
    "v1",
    "services",
    {
      metadata: {
        name: "kubernetes",
        namespace: "default",
        labels: { component: "apiserver", provider: "kubernetes" },
      },
      spec: {
        type: "ClusterIP",
        clusterIP: cfg.firstServiceIP,
        ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: cfg.securePort }],
        sessionAffinity: "None",
      },
    },
    (cur) =>
      ((cur.spec as Record<string, unknown>).ports as { targetPort?: number }[])[0]?.targetPort ===
      cfg.securePort,
  );
  const family = cfg.advertiseAddress.includes(":") ? "IPv6" : "IPv4";
  await ensure(
    registry,
    "",
    "v1",
    "endpoints",
    {
      metadata: {
        name: "kubernetes",
        namespace: "default",
        labels: { "endpointslice.kubernetes.io/skip-mirror": "true" },
      },
      subsets: [
        {
          addresses: [{ ip: cfg.advertiseAddress }],
          ports: [{ name: "https", port: cfg.securePort, protocol: "TCP" }],
        },
      ],
    },
    (cur) =>
      JSON.stringify(cur.subsets) ===
      JSON.stringify([
        {
          addresses: [{ ip: cfg.advertiseAddress }],
          ports: [{ name: "https", port: cfg.securePort, protocol: "TCP" }],
        },
      ]),
  );
  await ensure(
    registry,
    "discovery.k8s.io",
    "v1",
    "endpointslices",
    {
      metadata: {
        name: "kubernetes",
        namespace: "default",
        labels: {
          "kubernetes.io/service-name": "kubernetes",
          "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        },
      },
      addressType: family,
      endpoints: [
        { addresses: [cfg.advertiseAddress], conditions: { ready: true, serving: true, terminating: false } },
      ],
      ports: [{ name: "https", port: cfg.securePort, protocol: "TCP" }],
    } as KubeObject,
    (cur) =>
      (cur.ports as { port: number }[] | undefined)?.[0]?.port === cfg.securePort &&
      (cur.endpoints as { addresses: string[] }[])[0]?.addresses[0] === cfg.advertiseAddress,
  );
  cfg.log.info("bootstrap objects in place");
}
