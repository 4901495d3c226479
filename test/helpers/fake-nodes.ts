/**
 * Fake nodes for end-to-end tests, like kwok: registers Node objects through the API (capacity,
 * allocatable, Ready conditions with heartbeats, addresses, nodeInfo), renews one Lease per node in
 * kube-node-lease, and stands in for the kubelet: pods bound to a running fake node are marked
 * Running and Ready with a podIP, and pods being deleted on them are removed (grace period over).
 *
 *   const fake = await startFakeNodes(client, ["n1", "n2"], { cpu: "4" });
 *   fake.stop("n1");          // n1's "kubelet" dies: no more Lease renewals or pod updates
 *   await fake.resume("n1");  // it comes back: Lease renewed, Ready=True posted, pods re-marked Ready
 *   await fake.close();
 */
import type { KubeObject } from "../../api/object.js";
import { nth, parseCIDR } from "../../apiserver/allocators.js";
import {
  Informer,
  isAlreadyExists,
  isConflict,
  isNotFound,
  listerWatcher,
  loadClusterConnection,
  microTime,
  R,
  RestClient,
} from "../../client/index.js";
import type { ControllerOptions } from "../../controllers/types.js";

export interface FakeNodeOptions {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: string }>;
  /** how often each node's Lease is renewed; default 2000 ms */
  leaseRenewMs?: number;
  /** act as kubelet for pods bound to these nodes (Running + Ready, finish deletions); default true */
  runPods?: boolean;
}

export interface FakePodStatus {
  ready?: boolean;
  phase?: "Pending" | "Running" | "Succeeded" | "Failed";
}

export interface FakeNodes {
  readonly client: RestClient;
  /** names of all fake nodes (running or stopped) */
  names(): string[];
  /** stop one node's "kubelet" (no Lease renewals, no pod updates); no name: all of them */
  stop(name?: string): void;
  /** start it again: renew the Lease, post Ready=True, mark its pods Ready again */
  resume(name: string): Promise<void>;
  addNode(name: string, opts?: FakeNodeOptions): Promise<KubeObject>;
  /** deletes the Node (and its Lease) and forgets it */
  removeNode(name: string): Promise<void>;
  /** sets a pod's phase/readiness; the helper keeps it that way (it will not re-mark the pod Ready) */
  setPodStatus(namespace: string, name: string, status: FakePodStatus): Promise<void>;
  /** stops renewing and watching (the Node objects stay) */
  close(): Promise<void>;
}

export const FAKE_KUBELET_VERSION = "v1.33.0-kubeplane";
const LEASE_NS = "kube-node-lease";

function ts(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

interface NodeState {
  name: string;
  index: number;
  opts: FakeNodeOptions;
  running: boolean;
  timer?: NodeJS.Timeout;
  nextPodIP: number;
  podCIDR?: string;
  uid?: string;
}

function nodeConditions(now: string) {
  const c = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  return [
    c("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    c("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
  ];
}

function nodeStatus(state: NodeState) {
  const o = state.opts;
  const resources = {
    cpu: o.cpu ?? "4",
    memory: o.memory ?? "8Gi",
    pods: o.pods ?? "110",
    "ephemeral-storage": "100Gi",
  };
  const ip = `10.0.${Math.floor(state.index / 250)}.${(state.index % 250) + 1}`;
  return {
    capacity: resources,
    allocatable: { ...resources },
    conditions: nodeConditions(ts()),
    addresses: [
      { type: "InternalIP", address: ip },
      { type: "Hostname", address: state.name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    nodeInfo: {
      machineID: `fake-${state.name}`,
      systemUUID: `fake-${state.name}`,
      bootID: `fake-${state.name}`,
      kernelVersion: "6.1.0-kubeplane",
      osImage: "kubeplane fake node",
      containerRuntimeVersion: "fake://1.0.0",
      kubeletVersion: FAKE_KUBELET_VERSION,
      kubeProxyVersion: FAKE_KUBELET_VERSION,
      operatingSystem: "linux",
      architecture: "amd64",
    },
  };
}

type Cond = { type: string; status: string; [k: string]: unknown };

export async function startFakeNodes(
  target: RestClient | { kubeconfig: string },
  names: string[],
  defaults: FakeNodeOptions = {},
): Promise<FakeNodes> {
  const ownsClient = !(target instanceof RestClient);
  const client =
    target instanceof RestClient
      ? target
      : new RestClient(loadClusterConnection({ kubeconfig: target.kubeconfig }), {
          component: "fake-kubelet",
        });
  const nodes = new Map<string, NodeState>();
  /** pod uid → status the test pinned with setPodStatus */
  const pinned = new Map<string, FakePodStatus>();
  /** pod uids this helper already marked Running+Ready */
  const marked = new Set<string>();
  /** pod uid → assigned IP */
  const podIPs = new Map<string, string>();
  let counter = 0;
  let closed = false;

  const renew = async (state: NodeState) => {
    const body = {
      spec: { holderIdentity: state.name, leaseDurationSeconds: 40, renewTime: microTime(new Date()) },
    };
    try {
      await client.patch({ ...R.leases, namespace: LEASE_NS, name: state.name }, body, { type: "merge" });
    } catch (err) {
      if (!isNotFound(err)) return;
      try {
        await client.create(
          { ...R.leases, namespace: LEASE_NS },
          {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: {
              name: state.name,
              namespace: LEASE_NS,
              ...(state.uid
                ? { ownerReferences: [{ apiVersion: "v1", kind: "Node", name: state.name, uid: state.uid }] }
                : {}),
            },
            spec: { ...body.spec, acquireTime: body.spec.renewTime },
          },
        );
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
  };

  const startRenewing = (state: NodeState) => {
    if (state.timer) clearInterval(state.timer);
    state.timer = setInterval(() => {
      if (state.running && !closed) void renew(state).catch(() => {});
    }, state.opts.leaseRenewMs ?? 2000);
  };

  const postReady = async (state: NodeState) => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const node = await client.get({ ...R.nodes, name: state.name });
      const status = { ...(node.status as object), conditions: nodeConditions(ts()) };
      try {
        await client.update({ ...R.nodes, name: state.name, subresource: "status" }, { ...node, status });
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  };

  // ------------------------------------------------------------ the kubelet stand-in for pods
  const pods = new Informer(listerWatcher(client, R.pods), { name: "fake-kubelet-pods" });

  const podIP = async (state: NodeState, uid: string): Promise<string> => {
    const known = podIPs.get(uid);
    if (known) return known;
    if (!state.podCIDR) {
      try {
        const node = await client.get({ ...R.nodes, name: state.name });
        state.podCIDR = ((node.spec ?? {}) as { podCIDR?: string }).podCIDR || undefined;
      } catch {
        // keep the fallback range
      }
    }
    const k = state.nextPodIP++;
    const c = parseCIDR(
      state.podCIDR ?? `10.${200 + Math.floor(state.index / 256)}.${state.index % 256}.0/24`,
    );
    const span = c.size > 256n ? 250n : c.size - 3n;
    const ip = nth(c, 2n + (BigInt(k) % (span > 0n ? span : 1n)));
    podIPs.set(uid, ip);
    return ip;
  };

  const writePodStatus = async (pod: KubeObject, want: FakePodStatus, state: NodeState) => {
    const now = ts();
    const ready = want.ready ?? true;
    const phase = want.phase ?? "Running";
    const cur = (pod.status ?? {}) as { startTime?: string; conditions?: Cond[] };
    const ip = await podIP(state, pod.metadata.uid!);
    const hostIP = nodeStatus(state).addresses[0]!.address;
    const cond = (type: string, status: boolean) => {
      const old = cur.conditions?.find((c) => c.type === type);
      const s = status ? "True" : "False";
      return {
        type,
        status: s,
        lastProbeTime: null,
        lastTransitionTime: old && old.status === s ? (old.lastTransitionTime ?? now) : now,
      };
    };
    const containers = (((pod.spec ?? {}) as { containers?: Array<{ name: string; image?: string }> })
      .containers ?? []) as Array<{ name: string; image?: string }>;
    const running = phase === "Running";
    const status = {
      ...(pod.status as object),
      phase,
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: cur.startTime ?? now,
      conditions: [
        cond("PodReadyToStartContainers", true),
        cond("Initialized", true),
        cond("Ready", ready && running),
        cond("ContainersReady", ready && running),
        cond("PodScheduled", true),
      ],
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image ?? "",
        imageID: `fake://${c.image ?? ""}`,
        containerID: `fake://${pod.metadata.uid}-${c.name}`,
        ready: ready && running,
        started: running,
        restartCount: 0,
        state: running
          ? { running: { startedAt: cur.startTime ?? now } }
          : {
              terminated: {
                exitCode: phase === "Succeeded" ? 0 : 1,
                reason: phase === "Succeeded" ? "Completed" : "Error",
              },
            },
      })),
    };
    await client.patch(
      { ...R.pods, namespace: pod.metadata.namespace, name: pod.metadata.name!, subresource: "status" },
      { metadata: { resourceVersion: pod.metadata.resourceVersion }, status },
      { type: "merge" },
    );
  };

  const handlePod = async (pod: KubeObject) => {
    if (closed) return;
    const nodeName = ((pod.spec ?? {}) as { nodeName?: string }).nodeName;
    const state = nodeName ? nodes.get(nodeName) : undefined;
    if (!state?.running || state.opts.runPods === false) return;
    const uid = pod.metadata.uid!;
    if (pod.metadata.deletionTimestamp) {
      // the containers "stopped": finish the graceful deletion as a kubelet does
      try {
        await client.delete(
          { ...R.pods, namespace: pod.metadata.namespace, name: pod.metadata.name! },
          { gracePeriodSeconds: 0, preconditions: { uid } },
        );
      } catch {
        // gone already
      }
      return;
    }
    const st = (pod.status ?? {}) as { phase?: string; conditions?: Cond[] };
    if (st.phase === "Succeeded" || st.phase === "Failed") return;
    const want = pinned.get(uid);
    const ready = st.conditions?.find((c) => c.type === "Ready")?.status === "True";
    if (want) {
      const wantReady = (want.ready ?? true) && (want.phase ?? "Running") === "Running";
      if (st.phase === (want.phase ?? "Running") && ready === wantReady) return;
      await writePodStatus(pod, want, state).catch(() => {});
      return;
    }
    if (marked.has(uid) && st.phase === "Running" && ready) return;
    marked.add(uid);
    await writePodStatus(pod, {}, state).catch(() => {
      marked.delete(uid);
    });
  };
  pods.addEventHandler({
    onAdd: (p) => void handlePod(p),
    onUpdate: (_o, p) => void handlePod(p),
    onDelete: (p) => {
      marked.delete(p.metadata.uid!);
      pinned.delete(p.metadata.uid!);
      podIPs.delete(p.metadata.uid!);
    },
  });
  pods.start();
  await pods.waitForSync();

  const addNode = async (name: string, opts: FakeNodeOptions = {}): Promise<KubeObject> => {
    if (nodes.has(name)) throw new Error(`fake node ${name} exists already`);
    const state: NodeState = {
      name,
      index: counter++,
      opts: { ...defaults, ...opts },
      running: true,
      nextPodIP: 0,
    };
    nodes.set(name, state);
    const o = state.opts;
    const node = {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        labels: {
          "kubernetes.io/hostname": name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
          "beta.kubernetes.io/os": "linux",
          "beta.kubernetes.io/arch": "amd64",
          ...(o.labels ?? {}),
        },
        annotations: { "node.alpha.kubernetes.io/ttl": "0", "kubeplane.io/fake-node": "true" },
      },
      spec: o.taints?.length ? { taints: o.taints } : {},
      status: nodeStatus(state),
    };
    let created: KubeObject;
    try {
      created = await client.create(R.nodes, node);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      created = await client.get({ ...R.nodes, name });
    }
    state.uid = created.metadata.uid;
    state.podCIDR = ((created.spec ?? {}) as { podCIDR?: string }).podCIDR || undefined;
    // make sure the status made it (some servers drop status on create)
    if (!((created.status ?? {}) as { conditions?: unknown[] }).conditions?.length) await postReady(state);
    await renew(state);
    startRenewing(state);
    for (const p of pods.list()) void handlePod(p);
    return created;
  };

  for (const n of names) await addNode(n);

  return {
    client,
    names: () => [...nodes.keys()],
    stop(name?: string) {
      for (const s of nodes.values()) if (name === undefined || s.name === name) s.running = false;
    },
    async resume(name: string) {
      const s = nodes.get(name);
      if (!s) throw new Error(`no fake node ${name}`);
      s.running = true;
      await renew(s);
      await postReady(s);
      for (const p of pods.list()) {
        if (((p.spec ?? {}) as { nodeName?: string }).nodeName === name) marked.delete(p.metadata.uid!);
      }
      for (const p of pods.list()) void handlePod(p);
    },
    addNode,
    async removeNode(name: string) {
      const s = nodes.get(name);
      if (s?.timer) clearInterval(s.timer);
      nodes.delete(name);
      for (const ref of [
        { ...R.nodes, name },
        { ...R.leases, namespace: LEASE_NS, name },
      ]) {
        try {
          await client.delete(ref);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    },
    async setPodStatus(namespace: string, name: string, status: FakePodStatus) {
      const pod = await client.get({ ...R.pods, namespace, name });
      const nodeName = ((pod.spec ?? {}) as { nodeName?: string }).nodeName;
      const state = nodeName ? nodes.get(nodeName) : undefined;
      if (!state) throw new Error(`pod ${namespace}/${name} is not bound to a fake node`);
      pinned.set(pod.metadata.uid!, status);
      await writePodStatus(pod, status, state);
    },
    async close() {
      closed = true;
      for (const s of nodes.values()) if (s.timer) clearInterval(s.timer);
      await pods.stop();
      if (ownsClient) await client.close();
    },
  };
}

// ---------------------------------------------------------------- controllers in-process

export interface InProcessControllers {
  stop(): Promise<void>;
}

/** Runs the named controllers in this process through the real controller-manager. */
export async function startControllers(
  kubeconfig: string,
  names: string[],
  options: Partial<ControllerOptions> = {},
): Promise<InProcessControllers> {
  const { createLogger } = await import("../../cli/logger.js");
  const { run } = await import("../../controllers/manager.js");
  const logger = createLogger("controller-manager", process.env.KUBEPLANE_LOG_LEVEL ?? "warn");
  return run({ kubeconfig, controllers: names, bindAddress: "", logger, ...options });
}
