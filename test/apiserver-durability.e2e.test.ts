/**
 * kill -9 of the apiserver on SQLite loses no acknowledged write: every create that was answered
 * 201 before the SIGKILL is there after a restart on the same data dir, with its data, and
 * resourceVersions keep increasing.
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { Api, configMap } from "./helpers/api-http.js";
import { type ApiserverProcess, builtCliMissing, startApiserver } from "./helpers/apiserver.js";

const skip = builtCliMissing();
const N = 300;
const L = "/api/v1/namespaces/durable/configmaps";

describe.skipIf(!!skip)(`apiserver durability on SQLite${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const started: ApiserverProcess[] = [];

  afterAll(async () => {
    for (const p of started) await p.stop("SIGKILL");
    if (started[0]) rmSync(started[0].dataDir, { recursive: true, force: true });
  });

  it(`all ${N} acknowledged creates survive a SIGKILL right after the last 201`, async () => {
    const first = await startApiserver([], { keepDataDir: true });
    started.push(first);
    let api = new Api(first);
    expect(
      (
        await api.post("/api/v1/namespaces", {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: "durable" },
        })
      ).status,
    ).toBe(201);

    const acked = new Map<string, { rv: number; uid: string; data: Record<string, string> }>();
    for (let i = 0; i < N; i++) {
      const name = `cm-${String(i).padStart(4, "0")}`;
      const data = { index: String(i), payload: `value-${i}-${"z".repeat(i % 50)}` };
      const r = await api.post(L, configMap(name, data));
      expect(r.status, r.text).toBe(201);
      acked.set(name, { rv: Number(r.json.metadata.resourceVersion), uid: r.json.metadata.uid, data });
    }
    // kill -9 immediately after the last acknowledgement: no graceful shutdown, no checkpoint
    first.child.kill("SIGKILL");
    const code = await first.stop("SIGKILL");
    expect(code).toBeNull();
    expect(first.child.signalCode).toBe("SIGKILL");
    await api.close();

    const second = await startApiserver([], { dataDir: first.dataDir, keepDataDir: true });
    started.push(second);
    api = new Api(second);
    const list = await api.get(L);
    expect(list.status).toBe(200);
    const byName = new Map<
      string,
      { metadata: { uid: string; resourceVersion: string }; data: Record<string, string> }
    >(list.json.items.map((i: { metadata: { name: string } }) => [i.metadata.name, i]));
    const missing = [...acked.keys()].filter((n) => !byName.has(n));
    expect(missing, `acknowledged but lost: ${missing.join(", ")}`).toEqual([]);
    expect(byName.size).toBe(N);
    let maxRv = 0;
    for (const [name, want] of acked) {
      const got = byName.get(name)!;
      expect(got.data, name).toEqual(want.data);
      expect(got.metadata.uid, name).toBe(want.uid);
      expect(Number(got.metadata.resourceVersion), name).toBe(want.rv);
      maxRv = Math.max(maxRv, want.rv);
    }
    expect(Number(list.json.metadata.resourceVersion)).toBeGreaterThanOrEqual(maxRv);

    // resourceVersions keep increasing after the restart
    const after = await api.post(L, configMap("after-restart"));
    expect(after.status).toBe(201);
    expect(Number(after.json.metadata.resourceVersion)).toBeGreaterThan(maxRv);
    const upd = await api.patch(
      `${L}/cm-0000`,
      { data: { index: "updated" } },
      "application/merge-patch+json",
    );
    expect(upd.status).toBe(200);
    expect(Number(upd.json.metadata.resourceVersion)).toBeGreaterThan(
      Number(after.json.metadata.resourceVersion),
    );
    const one = await api.get(`${L}/cm-0001`);
    expect(one.json.data.index).toBe("1");
    await api.close();
  }, 180_000);
});
