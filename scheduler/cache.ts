/**
 * The scheduler's cache: nodes with the running sums of what their pods request, fed by the
 * informers, plus "assumed" pods — pods this scheduler decided to bind whose binding the
 * informer has not shown yet. Assuming adds the pod to its node at once, so the next decision
 * already sees the capacity taken; the informer's copy confirms it; a failed bind forgets it.
 */
import { objectKey } from "../client/informer.js";
import { NodeInfo, type PodUsage, podHostPorts } from "./node-info.js";
import { podRequests } from "./resources.js";
import type { Node, Pod } from "./types.js";

interface CachedPod {
  nodeName: string;
  usage: PodUsage;
  assumed: boolean;
  /** set when an assumed pod's bind succeeded (for expiry of never-confirmed assumptions) */
  bindingFinishedAt?: number;
}

/** Terminated pods free their resources. */
export function podIsTerminated(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === "Succeeded" || phase === "Failed";
}

export function podUsage(pod: Pod): PodUsage {
  return { requests: podRequests(pod), hostPorts: podHostPorts(pod) };
}

export class SchedulerCache {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly pods = new Map<string, CachedPod>();
  private nodeList: NodeInfo[] | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  // ------------------------------------------------------------ nodes

  addOrUpdateNode(node: Node): NodeInfo {
    const name = node.metadata.name!;
    let info = this.nodes.get(name);
    if (!info) {
      info = new NodeInfo(name, node);
      this.nodes.set(name, info);
      this.nodeList = undefined;
    } else {
      const had = info.node !== undefined;
      info.setNode(node);
      if (!had) this.nodeList = undefined;
    }
    return info;
  }

  removeNode(name: string): void {
    const info = this.nodes.get(name);
    if (!info) return;
    this.nodeList = undefined;
    // keep the entry while pods still point at it (their deletes will come), like upstream
    if (info.podCount > 0) info.node = undefined;
    else this.nodes.delete(name);
  }

  getNode(name: string): NodeInfo | undefined {
    return this.nodes.get(name);
  }

  /** Nodes that exist (have a Node object), in a stable order; rebuilt only when the set changes. */
  listNodes(): readonly NodeInfo[] {
    if (!this.nodeList) {
      this.nodeList = [...this.nodes.values()]
        .filter((n) => n.node !== undefined)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    return this.nodeList;
  }

  get nodeCount(): number {
    return this.listNodes().length;
  }

  private nodeFor(name: string): NodeInfo {
    let info = this.nodes.get(name);
    if (!info) {
      info = new NodeInfo(name);
      this.nodes.set(name, info);
    }
    return info;
  }

  private place(key: string, nodeName: string, usage: PodUsage, assumed: boolean): void {
    this.nodeFor(nodeName).addPod(usage);
    this.pods.set(key, { nodeName, usage, assumed });
  }

  private unplace(key: string): CachedPod | undefined {
    const cur = this.pods.get(key);
    if (!cur) return undefined;
    this.pods.delete(key);
    const info = this.nodes.get(cur.nodeName);
    if (info) {
      info.removePod(cur.usage);
      if (!info.node && info.podCount === 0) this.nodes.delete(cur.nodeName);
    }
    return cur;
  }

  // ------------------------------------------------------------ pods

  /**
   * Assumes `pod` runs on `nodeName` before the bind is confirmed. Throws if the pod is
   * already in the cache (bound or assumed).
   */
  assumePod(pod: Pod, nodeName: string): void {
    const key = objectKey(pod);
    if (this.pods.has(key)) throw new Error(`pod ${key} is already in the scheduler cache`);
    this.place(key, nodeName, podUsage(pod), true);
  }

  /** The bind request succeeded; the informer's update will confirm the pod. */
  finishBinding(key: string): void {
    const cur = this.pods.get(key);
    if (cur?.assumed) cur.bindingFinishedAt = this.now();
  }

  /** The bind failed: undo the assumption (no-op if the informer already confirmed the pod). */
  forgetPod(key: string): void {
    const cur = this.pods.get(key);
    if (cur?.assumed) this.unplace(key);
  }

  isAssumed(key: string): boolean {
    return this.pods.get(key)?.assumed === true;
  }

  /** In the cache at all (assumed or bound). */
  hasPod(key: string): boolean {
    return this.pods.has(key);
  }

  /**
   * The informer's view of a pod: a bound, non-terminated pod is (re)placed on its node
   * (confirming an assumption); an unbound or terminated one is removed unless it is assumed and
   * still unbound (the bind is in flight).
   */
  updatePodFromInformer(pod: Pod): void {
    const key = objectKey(pod);
    const nodeName = pod.spec?.nodeName ?? "";
    const cur = this.pods.get(key);
    if (!nodeName) {
      // not bound (yet): only a terminated pod clears an assumption
      if (cur && (!cur.assumed || podIsTerminated(pod))) this.unplace(key);
      return;
    }
    if (podIsTerminated(pod)) {
      this.unplace(key);
      return;
    }
    const usage = podUsage(pod);
    if (cur) {
      if (cur.nodeName === nodeName && !cur.assumed && sameUsage(cur.usage, usage)) return;
      this.unplace(key);
    }
    this.place(key, nodeName, usage, false);
  }

  removePod(key: string): void {
    this.unplace(key);
  }

  /**
   * Drops assumed pods whose bind finished more than `ttlMs` ago and were never confirmed by the
   * informer (e.g. their update was lost); returns their keys.
   */
  expireAssumed(ttlMs: number): string[] {
    const expired: string[] = [];
    const deadline = this.now() - ttlMs;
    for (const [key, p] of this.pods) {
      if (p.assumed && p.bindingFinishedAt !== undefined && p.bindingFinishedAt <= deadline)
        expired.push(key);
    }
    for (const key of expired) this.unplace(key);
    return expired;
  }

  get podCount(): number {
    return this.pods.size;
  }

  get assumedCount(): number {
    let n = 0;
    for (const p of this.pods.values()) if (p.assumed) n++;
    return n;
  }
}

function sameUsage(a: PodUsage, b: PodUsage): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
