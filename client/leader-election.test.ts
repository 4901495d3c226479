/**
 * Leader election against the PROTOCOL FAKE (test/helpers/client-protocol-fake.ts) serving
 * coordination.k8s.io/v1 leases with resourceVersion preconditions, through the real RestClient.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ProtocolFake, startProtocolFake } from "../test/helpers/client-protocol-fake.js";
import { type LeaderElectionConfig, LeaderElector, type Lease, microTime } from "./leader-election.js";
import { RestClient } from "./rest.js";

let fake: ProtocolFake;
let client: RestClient;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  fake = await startProtocolFake({
    group: "coordination.k8s.io",
    version: "v1",
    resource: "leases",
    kind: "Lease",
    namespaced: true,
  });
  client = new RestClient(
    { server: fake.url, insecureSkipTLSVerify: false, namespace: "default" },
    { component: "le-test" },
  );
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await client.close();
  await fake.close();
});

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const lease = () => fake.objects.get("kube-system/ctrl") as Lease | undefined;

interface Candidate {
  elector: LeaderElector;
  log: string[];
  leadSignal?: AbortSignal;
  stop: () => Promise<void>;
  done: Promise<void>;
}

function candidate(identity: string, extra: Partial<LeaderElectionConfig> = {}): Candidate {
  const log: string[] = [];
  const ac = new AbortController();
  const c: Partial<Candidate> = { log };
  const elector = new LeaderElector({
    client,
    namespace: "kube-system",
    name: "ctrl",
    identity,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    callbacks: {
      onStartedLeading: (signal) => {
        log.push("started");
        c.leadSignal = signal;
      },
      onStoppedLeading: () => log.push("stopped"),
      onNewLeader: (id) => log.push(`leader:${id}`),
    },
    ...extra,
  });
  const done = elector.run(ac.signal);
  c.elector = elector;
  c.done = done;
  c.stop = async () => {
    ac.abort();
    await done;
  };
  cleanups.push(c.stop);
  return c as Candidate;
}

describe("microTime", () => {
  it("has exactly six fractional digits", () => {
    expect(microTime(new Date("2024-05-06T07:08:09.123Z"))).toBe("2024-05-06T07:08:09.123000Z");
  });
});

describe("LeaderElector", () => {
  it("validates timing", () => {
    const base = {
      client,
      namespace: "n",
      name: "l",
      identity: "x",
      callbacks: { onStartedLeading() {}, onStoppedLeading() {} },
    };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 5000, renewDeadlineMs: 5000 })).toThrow(
      /leaseDuration/,
    );
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2000, retryPeriodMs: 2000 })).toThrow(
      /renewDeadline/,
    );
    expect(() => new LeaderElector({ ...base, identity: "" })).toThrow(/identity/);
  });

  it("creates the lease, leads and keeps renewing", async () => {
    const a = candidate("a");
    await until(() => a.elector.isLeader(), "a leads");
    expect(a.log).toContain("started");
    expect(a.log).toContain("leader:a");
    const l1 = lease()!;
    expect(l1.spec).toMatchObject({ holderIdentity: "a", leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(l1.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(fake.requests.find((r) => r.method === "POST")!.path).toBe(
      "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
    );
    await until(() => lease()!.spec?.renewTime !== l1.spec?.renewTime, "a renewal");
    const l2 = lease()!;
    expect(l2.spec?.acquireTime).toBe(l1.spec?.acquireTime);
    expect(l2.spec?.leaseTransitions).toBe(0);
    // renewals are optimistic PUTs carrying the resourceVersion read just before
    const put = fake.requests.filter((r) => r.method === "PUT").at(-1)!;
    expect(JSON.parse(put.body).metadata.resourceVersion).toMatch(/^\d+$/);
    expect(a.elector.getLeader()).toBe("a");
  });

  it("only one of several candidates leads; on stop it releases and another takes over at once", async () => {
    const cands = [candidate("a"), candidate("b"), candidate("c")];
    await until(() => cands.some((c) => c.elector.isLeader()), "a leader");
    await new Promise((r) => setTimeout(r, 300));
    expect(cands.filter((c) => c.elector.isLeader())).toHaveLength(1);
    const leader = cands.find((c) => c.elector.isLeader())!;
    const others = cands.filter((c) => c !== leader);
    const leaderId = lease()!.spec!.holderIdentity!;
    for (const o of others) expect(o.log).toContain(`leader:${leaderId}`);

    const t0 = performance.now();
    await leader.stop();
    expect(leader.log.at(-1)).toBe("stopped");
    expect(leader.leadSignal?.aborted).toBe(true);
    // released: successors need not wait for the 1 s lease to expire
    await until(() => others.some((o) => o.elector.isLeader()), "successor");
    expect(performance.now() - t0).toBeLessThan(900);
    const l = lease()!;
    expect(l.spec?.leaseTransitions).toBe(1); // release keeps the count; the successor adds one
    expect(others.filter((o) => o.elector.isLeader())).toHaveLength(1);
  });

  it("without release, a successor waits for the lease to expire", async () => {
    const a = candidate("a", { releaseOnCancel: false });
    await until(() => a.elector.isLeader(), "a leads");
    const b = candidate("b");
    await until(() => b.log.includes("leader:a"), "b sees a");
    const t0 = performance.now();
    await a.stop();
    expect(lease()!.spec?.holderIdentity).toBe("a");
    await until(() => b.elector.isLeader(), "b takes over", 5000);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(700); // ~1 s lease minus the time since b last saw a renewal
    expect(lease()!.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    expect(b.log).toContain("leader:b");
  });

  it("loses leadership when renewals fail for renewDeadline: signal aborted, onStoppedLeading, run returns", async () => {
    const a = candidate("a");
    await until(() => a.elector.isLeader(), "a leads");
    const signal = a.leadSignal!;
    fake.failNext(1000, 500, (r) => r.path.includes("/leases"));
    const t0 = performance.now();
    await a.done;
    const took = performance.now() - t0;
    expect(a.elector.isLeader()).toBe(false);
    expect(signal.aborted).toBe(true);
    expect(a.log.at(-1)).toBe("stopped");
    expect(took).toBeGreaterThanOrEqual(350);
    expect(took).toBeLessThan(3000);
  });

  it("a lease held by someone else that keeps renewing is never taken", async () => {
    fake.upsert({
      metadata: { name: "ctrl", namespace: "kube-system" },
      spec: {
        holderIdentity: "other",
        leaseDurationSeconds: 1,
        renewTime: microTime(new Date()),
        leaseTransitions: 4,
      },
    });
    const keepAlive = setInterval(() => {
      const cur = lease()!;
      fake.upsert({ ...cur, spec: { ...cur.spec, renewTime: microTime(new Date()) } });
    }, 200);
    cleanups.push(() => clearInterval(keepAlive));
    const b = candidate("b");
    await new Promise((r) => setTimeout(r, 1500));
    expect(b.elector.isLeader()).toBe(false);
    expect(b.log).toEqual(["leader:other"]);
    clearInterval(keepAlive);
    await until(() => b.elector.isLeader(), "b after the holder stops renewing", 4000);
    expect(lease()!.spec?.leaseTransitions).toBe(5);
  });

  it("a conflicting write makes the attempt fail instead of overwriting", async () => {
    const a = candidate("a");
    await until(() => a.elector.isLeader(), "a leads");
    // every PUT now races with a concurrent writer: answer 409 like a stale resourceVersion would
    fake.failNext(1000, 409, (r) => r.method === "PUT");
    await a.done;
    expect(a.log.at(-1)).toBe("stopped");
    expect(lease()!.spec?.holderIdentity).toBe("a"); // nothing was overwritten by the loser
  });
});
