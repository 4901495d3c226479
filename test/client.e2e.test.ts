/** The client library (informer, leader election, REST) against a real kubeplane apiserver. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../api/object.js";
import {
  Informer,
  LeaderElector,
  listerWatcher,
  loadClusterConnection,
  RestClient,
} from "../client/index.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";
import { waitUntil } from "./helpers/net.js";

const CONFIGMAPS = { group: "", version: "v1", resource: "configmaps" };
const missing = builtCliMissing();

describe.skipIf(!!missing)(
  `client library against the apiserver${missing ? ` (skipped: ${missing})` : ""}`,
  () => {
    let api: ApiserverProcess;
    let client: RestClient;

    beforeAll(async () => {
      api = await startApiserver();
      client = new RestClient(loadClusterConnection({ kubeconfig: api.kubeconfig }), { component: "e2e" });
    });
    afterAll(async () => {
      await client?.close();
      await api?.stop();
    });

    it("an informer pages its first list, then follows adds, updates and deletes", async () => {
      await client.create({ ...CONFIGMAPS, namespace: "kube-public" }, { metadata: { name: "elsewhere" } });
      for (let i = 0; i < 7; i++) {
        await client.create(
          { ...CONFIGMAPS, namespace: "default" },
          { metadata: { name: `cm-${i}`, labels: { set: "a" } }, data: { i: String(i) } },
        );
      }
      const inf = new Informer<KubeObject>(listerWatcher(client, CONFIGMAPS, { labelSelector: "set=a" }), {
        pageSize: 3,
      });
      const seen: string[] = [];
      inf.addEventHandler({
        onAdd: (o) => seen.push(`add ${o.metadata.name}`),
        onUpdate: (_old, o) => seen.push(`update ${o.metadata.name} ${(o.data as Record<string, string>).i}`),
        onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
      });
      inf.start();
      try {
        await inf.waitForSync();
        expect(
          inf
            .list()
            .map((o) => o.metadata.name)
            .sort(),
        ).toEqual(["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-5", "cm-6"]);
        await client.patch(
          { ...CONFIGMAPS, namespace: "default", name: "cm-3" },
          { data: { i: "33" } },
          { type: "merge" },
        );
        await client.delete({ ...CONFIGMAPS, namespace: "default", name: "cm-5" });
        await client.create(
          { ...CONFIGMAPS, namespace: "default" },
          { metadata: { name: "cm-new", labels: { set: "a" } }, data: { i: "new" } },
        );
        await client.create({ ...CONFIGMAPS, namespace: "default" }, { metadata: { name: "unlabelled" } });
        await waitUntil(() => seen.includes("add cm-new") || undefined, 10_000, "the informer to see cm-new");
        expect(seen).toContain("update cm-3 33");
        expect(seen).toContain("delete cm-5");
        expect(seen.some((s) => s.includes("unlabelled"))).toBe(false);
        expect(inf.get("default/cm-3")?.data).toEqual({ i: "33" });
        expect(inf.get("default/cm-5")).toBeUndefined();
      } finally {
        await inf.stop();
      }
    });

    it("leader election hands the lease over when the leader stops", async () => {
      const events: string[] = [];
      const elector = (id: string) =>
        new LeaderElector({
          client,
          namespace: "kube-system",
          name: "e2e-lock",
          identity: id,
          leaseDurationMs: 2000,
          renewDeadlineMs: 1500,
          retryPeriodMs: 200,
          callbacks: {
            onStartedLeading: () => {
              events.push(`${id} leads`);
            },
            onStoppedLeading: () => {
              events.push(`${id} stopped`);
            },
          },
        });
      const a = new AbortController();
      const b = new AbortController();
      const runA = elector("a").run(a.signal);
      await waitUntil(() => events.includes("a leads") || undefined, 10_000, "a to lead");
      const runB = elector("b").run(b.signal);
      await new Promise((r) => setTimeout(r, 1000));
      expect(events).not.toContain("b leads");
      a.abort();
      await runA;
      await waitUntil(() => events.includes("b leads") || undefined, 10_000, "b to take over");
      const lease = await client.get<KubeObject>({
        group: "coordination.k8s.io",
        version: "v1",
        resource: "leases",
        namespace: "kube-system",
        name: "e2e-lock",
      });
      expect((lease.spec as { holderIdentity: string }).holderIdentity).toBe("b");
      b.abort();
      await runB;
      expect(events).toEqual(["a leads", "a stopped", "b leads", "b stopped"]);
    });
  },
);
