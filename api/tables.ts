/**
 * Server-side Table conversion (meta.k8s.io/v1 Table), what `kubectl get` asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns and cell logic follow
 * kube-apiserver's printers for each kind. The server always produces every column,
 * including the priority-1 ones that `kubectl get -o wide` shows; kubectl hides them
 * otherwise. Kinds without a printer get the default table: Name, Created At.
 */

import { isPlainObject, type KubeObject, type ObjectMeta } from "./object.js";
import type { ResourceInfo } from "./resources.js";
import {
  formatLabelSelector,
  formatLabels,
  type LabelSelectorObject,
  labelSelectorFromObject,
  selectorToString,
} from "./selectors.js";

export interface TableColumnDefinition {
  name: string;
  /** OpenAPI type: string, integer, number, boolean, date */
  type: string;
  format: string;
  description: string;
  priority: number;
}

export type TableCell = string | number | boolean | null;

export interface TableRowCondition {
  type: "Completed";
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
}

export interface PartialObjectMetadata {
  kind: "PartialObjectMetadata";
  apiVersion: string;
  metadata: ObjectMeta;
}

export interface TableRow {
  cells: TableCell[];
  conditions?: TableRowCondition[];
  object?: KubeObject | PartialObjectMetadata;
}

export type TableVersion = "meta.k8s.io/v1" | "meta.k8s.io/v1beta1";

export interface Table {
  kind: "Table";
  apiVersion: TableVersion;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export type IncludeObject = "None" | "Metadata" | "Object";

export interface TableOptions {
  /** what each row carries in `object`; kubectl's default (and ours) is Metadata */
  includeObject?: IncludeObject;
  /** the list's metadata; without it a one-item table takes that item's resourceVersion */
  listMeta?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  /** the negotiated Table version (kubectl accepts v1 and v1beta1) */
  apiVersion?: TableVersion;
}

// ---------------------------------------------------------------------------------------
// duration

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * kubectl's AGE format (apimachinery duration.HumanDuration): ~2-3 significant figures,
 * "0s" for up to 2 s of clock skew, "<invalid>" beyond that.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    const d = Math.trunc(hours / 24);
    return h === 0 ? `${d}d` : `${d}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  const years = Math.trunc(hours / 24 / 365);
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${years}y`;
}

// ---------------------------------------------------------------------------------------
// loose accessors for untyped objects

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return isPlainObject(v) ? v : {};
}
function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.map(obj) : [];
}
function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return "";
}
function int(v: unknown, dflt = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : dflt;
}
function count(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  if (isPlainObject(v)) return Object.keys(v).length;
  return 0;
}
function selectorOf(v: unknown): LabelSelectorObject | undefined {
  return isPlainObject(v) ? (v as LabelSelectorObject) : undefined;
}
function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === "string") out[k] = x;
  return out;
}
function time(v: unknown): number | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** translateTimestampSince: "<unknown>" for a missing time. */
function since(v: unknown, now: number): string {
  const t = time(v);
  return t === undefined ? "<unknown>" : humanDuration(now - t);
}

function meta(o: KubeObject): ObjectMeta {
  return o.metadata ?? {};
}

function age(o: KubeObject, now: number): string {
  return since(meta(o).creationTimestamp, now);
}

/** Container names and images, each comma-joined (layoutContainerCells). */
function containerCells(podSpec: unknown): [string, string] {
  const cs = arr(obj(podSpec).containers);
  return [cs.map((c) => str(c.name)).join(","), cs.map((c) => str(c.image)).join(",")];
}

function templateSpec(o: KubeObject): Obj {
  return obj(obj(obj(o.spec).template).spec);
}

function joinHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function listWithMore(list: string[], more: boolean, total: number, max: number): string {
  const ret = list.join(",");
  if (more) return `${ret} + ${total - max} more...`;
  return ret === "" ? "<unset>" : ret;
}

/** sorted unique ip-or-hostname of load balancer ingress points (wide: never clipped) */
function loadBalancerAddresses(lb: unknown): string[] {
  const out = new Set<string>();
  for (const ing of arr(obj(lb).ingress)) {
    const ip = str(ing.ip);
    const host = str(ing.hostname);
    if (ip !== "") out.add(ip);
    else if (host !== "") out.add(host);
  }
  return [...out].sort();
}

// ---------------------------------------------------------------------------------------
// column helpers

function col(
  name: string,
  type: string,
  description: string,
  priority = 0,
  format = "",
): TableColumnDefinition {
  return { name, type, format, description, priority };
}

const NAME = col("Name", "string", "Name must be unique within a namespace.", 0, "name");
const AGE = col("Age", "string", "Time since the object was created (creationTimestamp).");
const CONTAINERS = col("Containers", "string", "Names of each container in the template.", 1);
const IMAGES = col("Images", "string", "Images referenced by each container in the template.", 1);
const SELECTOR = (desc: string) => col("Selector", "string", desc, 1);

interface RowResult {
  cells: TableCell[];
  conditions?: TableRowCondition[];
}

interface Printer {
  columns: TableColumnDefinition[];
  row(o: KubeObject, now: number): RowResult;
}

// ---------------------------------------------------------------------------------------
// Pod

const POD_SUCCEEDED: TableRowCondition[] = [
  { type: "Completed", status: "True", reason: "Succeeded", message: "The pod has completed successfully." },
];
const POD_FAILED: TableRowCondition[] = [
  { type: "Completed", status: "True", reason: "Failed", message: "The pod failed." },
];

function hasCondition(conditions: Obj[], type: string): boolean {
  return conditions.some((c) => c.type === type && c.status === "True");
}

function podRow(pod: KubeObject, now: number): RowResult {
  const spec = obj(pod.spec);
  const status = obj(pod.status);
  const conditions = arr(status.conditions);
  const phase = str(status.phase);
  let reason = str(status.reason) || phase;
  if (conditions.some((c) => c.type === "PodScheduled" && c.reason === "SchedulingGated"))
    reason = "SchedulingGated";

  const initContainers = arr(spec.initContainers);
  const initByName = new Map(initContainers.map((c) => [str(c.name), c]));
  const isRestartable = (name: string) => initByName.get(name)?.restartPolicy === "Always";

  let totalContainers = arr(spec.containers).length;
  for (const c of initContainers) if (c.restartPolicy === "Always") totalContainers++;

  let restarts = 0;
  let restartableRestarts = 0;
  let readyContainers = 0;
  let lastRestart = 0;
  let lastRestartableRestart = 0;
  const lastTerminated = (cs: Obj): number => time(obj(obj(cs.lastState).terminated).finishedAt) ?? 0;

  let initializing = false;
  const initStatuses = arr(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    const name = str(cs.name);
    restarts += int(cs.restartCount);
    lastRestart = Math.max(lastRestart, lastTerminated(cs));
    if (isRestartable(name)) {
      restartableRestarts += int(cs.restartCount);
      lastRestartableRestart = Math.max(lastRestartableRestart, lastTerminated(cs));
    }
    const state = obj(cs.state);
    const terminated = isPlainObject(state.terminated) ? state.terminated : undefined;
    const waiting = isPlainObject(state.waiting) ? state.waiting : undefined;
    if (terminated && int(terminated.exitCode) === 0) continue;
    if (isRestartable(name) && cs.started === true) {
      if (cs.ready === true) readyContainers++;
      continue;
    }
    if (terminated) {
      const r = str(terminated.reason);
      if (r !== "") reason = `Init:${r}`;
      else if (int(terminated.signal) !== 0) reason = `Init:Signal:${int(terminated.signal)}`;
      else reason = `Init:ExitCode:${int(terminated.exitCode)}`;
    } else if (waiting && str(waiting.reason) !== "" && waiting.reason !== "PodInitializing") {
      reason = `Init:${str(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${initContainers.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || hasCondition(conditions, "Initialized")) {
    restarts = restartableRestarts;
    lastRestart = lastRestartableRestart;
    let hasRunning = false;
    const statuses = arr(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i]!;
      restarts += int(cs.restartCount);
      lastRestart = Math.max(lastRestart, lastTerminated(cs));
      const state = obj(cs.state);
      const waiting = isPlainObject(state.waiting) ? state.waiting : undefined;
      const terminated = isPlainObject(state.terminated) ? state.terminated : undefined;
      if (waiting && str(waiting.reason) !== "") {
        reason = str(waiting.reason);
      } else if (terminated && str(terminated.reason) !== "") {
        reason = str(terminated.reason);
      } else if (terminated) {
        reason =
          int(terminated.signal) !== 0
            ? `Signal:${int(terminated.signal)}`
            : `ExitCode:${int(terminated.exitCode)}`;
      } else if (cs.ready === true && isPlainObject(state.running)) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // a container still running after another completed: the pod is not "Completed"
    if (reason === "Completed" && hasRunning) {
      reason = hasCondition(conditions, "Ready") ? "Running" : "NotReady";
    }
  }

  const deleting = meta(pod).deletionTimestamp !== undefined && meta(pod).deletionTimestamp !== null;
  if (deleting && str(status.reason) === "NodeLost") reason = "Unknown";
  else if (deleting && phase !== "Succeeded" && phase !== "Failed") reason = "Terminating";

  let restartsCell = String(restarts);
  if (restarts !== 0 && lastRestart !== 0)
    restartsCell = `${restarts} (${humanDuration(now - lastRestart)} ago)`;

  const podIPs = arr(status.podIPs);
  const podIP = (podIPs.length > 0 ? str(podIPs[0]!.ip) : str(status.podIP)) || "<none>";
  const gates = arr(spec.readinessGates);
  let readinessGates = "<none>";
  if (gates.length > 0) {
    let trueCount = 0;
    for (const g of gates) {
      const c = conditions.find((x) => x.type === g.conditionType);
      if (c?.status === "True") trueCount++;
    }
    readinessGates = `${trueCount}/${gates.length}`;
  }

  const out: RowResult = {
    cells: [
      str(meta(pod).name),
      `${readyContainers}/${totalContainers}`,
      reason,
      restartsCell,
      age(pod, now),
      podIP,
      str(spec.nodeName) || "<none>",
      str(status.nominatedNodeName) || "<none>",
      readinessGates,
    ],
  };
  if (phase === "Succeeded") out.conditions = POD_SUCCEEDED;
  else if (phase === "Failed") out.conditions = POD_FAILED;
  return out;
}

// ---------------------------------------------------------------------------------------
// Service, Endpoints, EndpointSlice

function serviceExternalIP(spec: Obj, status: Obj): string {
  const externalIPs = strs(spec.externalIPs);
  switch (str(spec.type) || "ClusterIP") {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = loadBalancerAddresses(status.loadBalancer);
      if (externalIPs.length > 0) return [...lb, ...externalIPs].join(",");
      return lb.length > 0 ? lb.join(",") : "<pending>";
    }
    case "ExternalName":
      return str(spec.externalName);
    default:
      return "<unknown>";
  }
}

function servicePorts(ports: Obj[]): string {
  return ports
    .map((p) => {
      const proto = str(p.protocol) || "TCP";
      const nodePort = int(p.nodePort);
      return nodePort > 0 ? `${int(p.port)}:${nodePort}/${proto}` : `${int(p.port)}/${proto}`;
    })
    .join(",");
}

function serviceRow(svc: KubeObject, now: number): RowResult {
  const spec = obj(svc.spec);
  const clusterIPs = strs(spec.clusterIPs);
  const clusterIP = clusterIPs[0] ?? (str(spec.clusterIP) || "<none>");
  return {
    cells: [
      str(meta(svc).name),
      str(spec.type) || "ClusterIP",
      clusterIP,
      serviceExternalIP(spec, obj(svc.status)),
      servicePorts(arr(spec.ports)) || "<none>",
      age(svc, now),
      formatLabels(stringMap(spec.selector)),
    ],
  };
}

/** "ip:port,ip:port,ip:port + N more..." over every subset and port (formatEndpoints). */
export function formatEndpoints(ep: KubeObject): string {
  const subsets = arr(ep.subsets);
  if (subsets.length === 0) return "<none>";
  const max = 3;
  const list: string[] = [];
  let more = false;
  let total = 0;
  for (const ss of subsets) {
    const addresses = arr(ss.addresses);
    const ports = arr(ss.ports);
    if (ports.length === 0) {
      // headless services without ports list bare addresses
      total += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(str(a.ip));
      }
      continue;
    }
    for (const port of ports) {
      total += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(str(a.ip), int(port.port)));
      }
    }
  }
  const ret = list.join(",");
  return more ? `${ret} + ${total - max} more...` : ret;
}

function endpointSliceRow(es: KubeObject, now: number): RowResult {
  const max = 3;
  const ports: string[] = [];
  let portsMore = false;
  let portCount = 0;
  for (const p of arr(es.ports)) {
    if (ports.length < max) {
      ports.push(typeof p.port === "number" ? String(p.port) : typeof p.name === "string" ? p.name : "*");
    } else if (ports.length === max) {
      portsMore = true;
    }
    portCount++;
  }
  const addrs: string[] = [];
  let addrMore = false;
  let addrCount = 0;
  for (const e of arr(es.endpoints)) {
    for (const a of strs(e.addresses)) {
      if (addrs.length < max) addrs.push(a);
      else if (addrs.length === max) addrMore = true;
      addrCount++;
    }
  }
  return {
    cells: [
      str(meta(es).name),
      str(es.addressType),
      listWithMore(ports, portsMore, portCount, max),
      listWithMore(addrs, addrMore, addrCount, max),
      age(es, now),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Node

const NODE_ROLE_PREFIX = "node-role.kubernetes.io/";

function nodeRoles(labels: Record<string, string> | undefined): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k.startsWith(NODE_ROLE_PREFIX)) {
      const role = k.slice(NODE_ROLE_PREFIX.length);
      if (role !== "") roles.add(role);
    } else if (k === "kubernetes.io/role" && v !== "") {
      roles.add(v);
    }
  }
  return [...roles].sort();
}

function nodeRow(node: KubeObject, now: number): RowResult {
  const status = obj(node.status);
  const ready = arr(status.conditions).find((c) => c.type === "Ready");
  const parts: string[] = [];
  if (ready) parts.push(ready.status === "True" ? "Ready" : "NotReady");
  else parts.push("Unknown");
  if (obj(node.spec).unschedulable === true) parts.push("SchedulingDisabled");
  const info = obj(status.nodeInfo);
  const addresses = arr(status.addresses);
  const addr = (type: string) => str(addresses.find((a) => a.type === type)?.address) || "<none>";
  const roles = nodeRoles(meta(node).labels).join(",");
  return {
    cells: [
      str(meta(node).name),
      parts.join(","),
      roles || "<none>",
      age(node, now),
      str(info.kubeletVersion),
      addr("InternalIP"),
      addr("ExternalIP"),
      str(info.osImage) || "<unknown>",
      str(info.kernelVersion) || "<unknown>",
      str(info.containerRuntimeVersion) || "<unknown>",
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Event (core/v1 and events.k8s.io/v1 shapes)

interface EventView {
  name: string;
  involvedObject: Obj;
  reason: string;
  message: string;
  type: string;
  source: Obj;
  reportingController: string;
  reportingInstance: string;
  firstTimestamp: unknown;
  lastTimestamp: unknown;
  eventTime: unknown;
  count: number;
  series: Obj | undefined;
}

function eventView(e: KubeObject): EventView {
  // events.k8s.io/v1 renames most fields; the printer works on the shared internal form
  const isNew = "regarding" in e || "note" in e || "deprecatedSource" in e || "deprecatedCount" in e;
  const series = isPlainObject(e.series) ? e.series : undefined;
  if (isNew) {
    return {
      name: str(meta(e).name),
      involvedObject: obj(e.regarding),
      reason: str(e.reason),
      message: str(e.note),
      type: str(e.type),
      source: obj(e.deprecatedSource),
      reportingController: str(e.reportingController),
      reportingInstance: str(e.reportingInstance),
      firstTimestamp: e.deprecatedFirstTimestamp,
      lastTimestamp: e.deprecatedLastTimestamp,
      eventTime: e.eventTime,
      count: int(e.deprecatedCount),
      series,
    };
  }
  return {
    name: str(meta(e).name),
    involvedObject: obj(e.involvedObject),
    reason: str(e.reason),
    message: str(e.message),
    type: str(e.type),
    source: obj(e.source),
    reportingController: str(e.reportingComponent),
    reportingInstance: str(e.reportingInstance),
    firstTimestamp: e.firstTimestamp,
    lastTimestamp: e.lastTimestamp,
    eventTime: e.eventTime,
    count: int(e.count),
    series,
  };
}

function eventRow(e: KubeObject, now: number): RowResult {
  const v = eventView(e);
  const first = time(v.firstTimestamp) !== undefined ? since(v.firstTimestamp, now) : since(v.eventTime, now);
  let last = time(v.lastTimestamp) !== undefined ? since(v.lastTimestamp, now) : first;
  let n = v.count;
  if (v.series) {
    last = since(v.series.lastObservedTime, now);
    n = int(v.series.count);
  } else if (n === 0) {
    n = 1; // singleton events have no count in the new API
  }
  const kind = str(v.involvedObject.kind).toLowerCase();
  const name = str(v.involvedObject.name);
  const target = name !== "" ? `${kind}/${name}` : kind;
  const component = str(v.source.component) || v.reportingController;
  const host = str(v.source.host) || v.reportingInstance;
  const source = host === "" ? component : `${component}, ${host}`;
  return {
    cells: [
      last,
      v.type,
      v.reason,
      target,
      str(v.involvedObject.fieldPath),
      source,
      v.message.trim(),
      first,
      n,
      v.name,
    ],
  };
}

// ---------------------------------------------------------------------------------------
// apps

function deploymentRow(d: KubeObject, now: number): RowResult {
  const spec = obj(d.spec);
  const status = obj(d.status);
  const [names, images] = containerCells(templateSpec(d));
  let selector: string;
  try {
    selector = selectorToString(labelSelectorFromObject(selectorOf(spec.selector)));
  } catch {
    selector = "<invalid>";
  }
  return {
    cells: [
      str(meta(d).name),
      `${int(status.readyReplicas)}/${int(spec.replicas, 1)}`,
      int(status.updatedReplicas),
      int(status.availableReplicas),
      age(d, now),
      names,
      images,
      selector,
    ],
  };
}

function replicaSetRow(rs: KubeObject, now: number): RowResult {
  const spec = obj(rs.spec);
  const status = obj(rs.status);
  const [names, images] = containerCells(templateSpec(rs));
  return {
    cells: [
      str(meta(rs).name),
      int(spec.replicas, 1),
      int(status.replicas),
      int(status.readyReplicas),
      age(rs, now),
      names,
      images,
      formatLabelSelector(selectorOf(spec.selector)),
    ],
  };
}

function daemonSetRow(ds: KubeObject, now: number): RowResult {
  const spec = obj(ds.spec);
  const status = obj(ds.status);
  const tspec = templateSpec(ds);
  const [names, images] = containerCells(tspec);
  return {
    cells: [
      str(meta(ds).name),
      int(status.desiredNumberScheduled),
      int(status.currentNumberScheduled),
      int(status.numberReady),
      int(status.updatedNumberScheduled),
      int(status.numberAvailable),
      formatLabels(stringMap(tspec.nodeSelector)),
      age(ds, now),
      names,
      images,
      formatLabelSelector(selectorOf(spec.selector)),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// networking

function ingressHosts(rules: Obj[]): string {
  const max = 3;
  const list: string[] = [];
  let more = false;
  for (const rule of rules) {
    if (list.length === max) more = true;
    const host = str(rule.host);
    if (!more && host !== "") list.push(host);
  }
  if (list.length === 0) return "*";
  const ret = list.join(",");
  return more ? `${ret} + ${rules.length - max} more...` : ret;
}

function ingressRow(ing: KubeObject, now: number): RowResult {
  const spec = obj(ing.spec);
  return {
    cells: [
      str(meta(ing).name),
      str(spec.ingressClassName) || "<none>",
      ingressHosts(arr(spec.rules)),
      loadBalancerAddresses(obj(ing.status).loadBalancer).join(","),
      arr(spec.tls).length > 0 ? "80, 443" : "80",
      age(ing, now),
    ],
  };
}

function ingressClassRow(ic: KubeObject, now: number): RowResult {
  const spec = obj(ic.spec);
  let parameters = "<none>";
  if (isPlainObject(spec.parameters)) {
    const p = spec.parameters;
    parameters = str(p.kind);
    if (typeof p.apiGroup === "string") parameters += `.${p.apiGroup}`;
    parameters += `/${str(p.name)}`;
  }
  return { cells: [str(meta(ic).name), str(spec.controller), parameters, age(ic, now)] };
}

// ---------------------------------------------------------------------------------------
// HorizontalPodAutoscaler (autoscaling/v2, and v1's single CPU target)

function quantity(v: unknown): string | undefined {
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number") return String(v);
  return undefined;
}

/** formatHPAMetrics: at most two entries, then "+ N more...". */
export function formatHPAMetrics(specs: Obj[], statuses: Obj[]): string {
  if (specs.length === 0) return "<none>";
  const list: string[] = [];
  const max = 2;
  specs.forEach((spec, i) => {
    const st = statuses[i];
    const type = str(spec.type);
    switch (type) {
      case "External":
      case "Object": {
        const key = type === "External" ? "external" : "object";
        const target = obj(obj(spec[key]).target);
        const current = st && isPlainObject(st[key]) ? obj(obj(st[key]).current) : undefined;
        const avg = quantity(target.averageValue);
        if (avg !== undefined) {
          list.push(`${quantity(current?.averageValue) ?? "<unknown>"}/${avg} (avg)`);
        } else {
          list.push(`${quantity(current?.value) ?? "<unknown>"}/${quantity(target.value) ?? "<unknown>"}`);
        }
        break;
      }
      case "Pods": {
        const target = obj(obj(spec.pods).target);
        const current = st && isPlainObject(st.pods) ? obj(obj(st.pods).current) : undefined;
        list.push(
          `${quantity(current?.averageValue) ?? "<unknown>"}/${quantity(target.averageValue) ?? "<unknown>"}`,
        );
        break;
      }
      case "Resource":
      case "ContainerResource": {
        const key = type === "Resource" ? "resource" : "containerResource";
        const src = obj(spec[key]);
        const target = obj(src.target);
        const current = st && isPlainObject(st[key]) ? obj(obj(st[key]).current) : undefined;
        const avg = quantity(target.averageValue);
        if (avg !== undefined) {
          list.push(`${str(src.name)}: ${quantity(current?.averageValue) ?? "<unknown>"}/${avg}`);
        } else {
          const cur =
            typeof current?.averageUtilization === "number"
              ? `${int(current.averageUtilization)}%`
              : "<unknown>";
          const tgt =
            typeof target.averageUtilization === "number" ? `${int(target.averageUtilization)}%` : "<auto>";
          list.push(`${str(src.name)}: ${cur}/${tgt}`);
        }
        break;
      }
      default:
        list.push("<unknown type>");
    }
  });
  if (list.length > max) return `${list.slice(0, max).join(", ")} + ${list.length - max} more...`;
  return list.join(", ");
}

function hpaRow(hpa: KubeObject, now: number): RowResult {
  const spec = obj(hpa.spec);
  const status = obj(hpa.status);
  let specs = arr(spec.metrics);
  let statuses = arr(status.currentMetrics);
  if (!Array.isArray(spec.metrics) && typeof spec.targetCPUUtilizationPercentage === "number") {
    // autoscaling/v1 form
    specs = [
      {
        type: "Resource",
        resource: {
          name: "cpu",
          target: { type: "Utilization", averageUtilization: spec.targetCPUUtilizationPercentage },
        },
      },
    ];
    statuses =
      typeof status.currentCPUUtilizationPercentage === "number"
        ? [
            {
              type: "Resource",
              resource: {
                name: "cpu",
                current: { averageUtilization: status.currentCPUUtilizationPercentage },
              },
            },
          ]
        : [];
  }
  const ref = obj(spec.scaleTargetRef);
  return {
    cells: [
      str(meta(hpa).name),
      `${str(ref.kind)}/${str(ref.name)}`,
      formatHPAMetrics(specs, statuses),
      typeof spec.minReplicas === "number" ? String(int(spec.minReplicas)) : "<unset>",
      int(spec.maxReplicas),
      int(status.currentReplicas),
      age(hpa, now),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// rbac

function bindingRow(b: KubeObject, now: number): RowResult {
  const roleRef = obj(b.roleRef);
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  for (const s of arr(b.subjects)) {
    if (s.kind === "User") users.push(str(s.name));
    else if (s.kind === "Group") groups.push(str(s.name));
    else if (s.kind === "ServiceAccount") sas.push(`${str(s.namespace)}/${str(s.name)}`);
  }
  return {
    cells: [
      str(meta(b).name),
      `${str(roleRef.kind)}/${str(roleRef.name)}`,
      age(b, now),
      users.join(", "),
      groups.join(", "),
      sas.join(", "),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// APIService (kube-aggregator's table)

function apiServiceRow(a: KubeObject, now: number): RowResult {
  const spec = obj(a.spec);
  const svc = isPlainObject(spec.service) ? spec.service : undefined;
  const service = svc ? `${str(svc.namespace)}/${str(svc.name)}` : "Local";
  let available = "Unknown";
  const cond = arr(obj(a.status).conditions).find((c) => c.type === "Available");
  if (cond) {
    const s = str(cond.status);
    available = s === "True" || str(cond.reason) === "" ? s : `${s} (${str(cond.reason)})`;
  }
  return { cells: [str(meta(a).name), service, available, age(a, now)] };
}

// ---------------------------------------------------------------------------------------
// the registry

const ROLE_BINDING_COLUMNS = (what: string): TableColumnDefinition[] => [
  NAME,
  col("Role", "string", `The role referenced by the ${what}.`),
  AGE,
  col("Users", "string", `Users in the ${what}.`, 1),
  col("Groups", "string", `Groups in the ${what}.`, 1),
  col("ServiceAccounts", "string", `ServiceAccounts in the ${what}.`, 1),
];

const EVENT_PRINTER: Printer = {
  columns: [
    col("Last Seen", "string", "Time since the event was last seen."),
    col("Type", "string", "Type of this event (Normal, Warning)."),
    col("Reason", "string", "Short, machine understandable reason for the event."),
    col("Object", "string", "The object this event is about."),
    col("Subobject", "string", "The part of the object this event is about (fieldPath).", 1),
    col("Source", "string", "The component reporting this event.", 1),
    col("Message", "string", "A human-readable description of the event."),
    col("First Seen", "string", "Time since the event was first seen.", 1),
    col("Count", "string", "The number of times this event has occurred.", 1),
    col("Name", "string", "Name of the event.", 1, "name"),
  ],
  row: eventRow,
};

const HPA_PRINTER: Printer = {
  columns: [
    NAME,
    col("Reference", "string", "The scale target (kind/name)."),
    col("Targets", "string", "Current and target values of each metric."),
    col("MinPods", "string", "Lower limit for the number of replicas."),
    col("MaxPods", "string", "Upper limit for the number of replicas."),
    col("Replicas", "string", "Current number of replicas."),
    AGE,
  ],
  row: hpaRow,
};

const PRINTERS: Record<string, Printer> = {
  "/Namespace": {
    columns: [NAME, col("Status", "string", "The status of the namespace"), AGE],
    row: (o, now) => ({ cells: [str(meta(o).name), str(obj(o.status).phase), age(o, now)] }),
  },
  "/Pod": {
    columns: [
      NAME,
      col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
      col("Status", "string", "The aggregate status of the containers in this pod."),
      col("Restarts", "string", "Container restarts in this pod and when the last one restarted."),
      AGE,
      col("IP", "string", "The pod's (first) IP address.", 1),
      col("Node", "string", "The node the pod is bound to.", 1),
      col("Nominated Node", "string", "The node the scheduler nominated for preemption.", 1),
      col("Readiness Gates", "string", "Readiness gates that are true, of all declared.", 1),
    ],
    row: podRow,
  },
  "/Service": {
    columns: [
      NAME,
      col("Type", "string", "How the service is exposed."),
      col("Cluster-IP", "string", "The service's (first) cluster IP."),
      col("External-IP", "string", "External IPs or load balancer addresses."),
      col("Port(s)", "string", "Ports exposed by the service (port[:nodePort]/protocol)."),
      AGE,
      SELECTOR("Pods with these labels receive the service's traffic."),
    ],
    row: serviceRow,
  },
  "/Endpoints": {
    columns: [NAME, col("Endpoints", "string", "Addresses and ports of the endpoints."), AGE],
    row: (o, now) => ({ cells: [str(meta(o).name), formatEndpoints(o), age(o, now)] }),
  },
  "discovery.k8s.io/EndpointSlice": {
    columns: [
      NAME,
      col("AddressType", "string", "The type of address in this slice (IPv4, IPv6, FQDN)."),
      col("Ports", "string", "Ports exposed by the endpoints."),
      col("Endpoints", "string", "Addresses of the endpoints."),
      AGE,
    ],
    row: endpointSliceRow,
  },
  "/Node": {
    columns: [
      NAME,
      col("Status", "string", "The status of the node"),
      col("Roles", "string", "The roles of the node"),
      AGE,
      col("Version", "string", "The kubelet version."),
      col("Internal-IP", "string", "The node's internal IP.", 1),
      col("External-IP", "string", "The node's external IP.", 1),
      col("OS-Image", "string", "The OS image reported by the node.", 1),
      col("Kernel-Version", "string", "The kernel version reported by the node.", 1),
      col("Container-Runtime", "string", "The container runtime version reported by the node.", 1),
    ],
    row: nodeRow,
  },
  "/ConfigMap": {
    columns: [NAME, col("Data", "string", "Number of data and binaryData keys."), AGE],
    row: (o, now) => ({ cells: [str(meta(o).name), count(o.data) + count(o.binaryData), age(o, now)] }),
  },
  "/Secret": {
    columns: [
      NAME,
      col("Type", "string", "The secret type."),
      col("Data", "string", "Number of data keys."),
      AGE,
    ],
    row: (o, now) => ({ cells: [str(meta(o).name), str(o.type), count(o.data), age(o, now)] }),
  },
  "/ServiceAccount": {
    columns: [NAME, col("Secrets", "string", "Number of secrets listed for the service account."), AGE],
    row: (o, now) => ({ cells: [str(meta(o).name), count(o.secrets), age(o, now)] }),
  },
  "/Event": EVENT_PRINTER,
  "events.k8s.io/Event": EVENT_PRINTER,
  "coordination.k8s.io/Lease": {
    columns: [NAME, col("Holder", "string", "The current holder of the lease."), AGE],
    row: (o, now) => ({ cells: [str(meta(o).name), str(obj(o.spec).holderIdentity), age(o, now)] }),
  },
  "apps/Deployment": {
    columns: [
      NAME,
      col("Ready", "string", "Number of the pod with ready state"),
      col("Up-to-date", "string", "Replicas running the latest template."),
      col("Available", "string", "Replicas available to users."),
      AGE,
      CONTAINERS,
      IMAGES,
      SELECTOR("Label selector for the deployment's pods."),
    ],
    row: deploymentRow,
  },
  "apps/ReplicaSet": {
    columns: [
      NAME,
      col("Desired", "integer", "Desired number of replicas."),
      col("Current", "integer", "Most recently observed number of replicas."),
      col("Ready", "integer", "Replicas with a Ready condition."),
      AGE,
      CONTAINERS,
      IMAGES,
      SELECTOR("Label selector for the replica set's pods."),
    ],
    row: replicaSetRow,
  },
  "apps/DaemonSet": {
    columns: [
      NAME,
      col("Desired", "integer", "Nodes that should run the daemon pod."),
      col("Current", "integer", "Nodes running at least one daemon pod."),
      col("Ready", "integer", "Nodes whose daemon pod is ready."),
      col("Up-to-date", "integer", "Nodes running the updated daemon pod."),
      col("Available", "integer", "Nodes whose daemon pod is available."),
      col("Node Selector", "string", "The pod template's node selector."),
      AGE,
      CONTAINERS,
      IMAGES,
      SELECTOR("Label selector for the daemon set's pods."),
    ],
    row: daemonSetRow,
  },
  "networking.k8s.io/Ingress": {
    columns: [
      NAME,
      col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
      ),
      col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
      col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
      col("Ports", "string", "Ports of TLS configurations that open"),
      AGE,
    ],
    row: ingressRow,
  },
  "networking.k8s.io/IngressClass": {
    columns: [
      NAME,
      col("Controller", "string", "Controller that is responsible for handling this class"),
      col("Parameters", "string", "A reference to a resource with additional parameters"),
      AGE,
    ],
    row: ingressClassRow,
  },
  "autoscaling/HorizontalPodAutoscaler": HPA_PRINTER,
  "apiregistration.k8s.io/APIService": {
    columns: [
      NAME,
      col("Service", "string", "The service serving this API (Local when built in)."),
      col("Available", "string", "Whether this service is available."),
      AGE,
    ],
    row: apiServiceRow,
  },
  "rbac.authorization.k8s.io/RoleBinding": { columns: ROLE_BINDING_COLUMNS("roleBinding"), row: bindingRow },
  "rbac.authorization.k8s.io/ClusterRoleBinding": {
    columns: ROLE_BINDING_COLUMNS("clusterRoleBinding"),
    row: bindingRow,
  },
};

/** RFC 3339 in UTC without fractional seconds, Go's zero time for a missing stamp. */
function createdAt(v: unknown): string {
  const t = time(v);
  if (t === undefined) return "0001-01-01T00:00:00Z";
  return new Date(Math.floor(t / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** The table for kinds without a printer (and custom resources without printer columns). */
const DEFAULT_PRINTER: Printer = {
  columns: [
    NAME,
    col(
      "Created At",
      "date",
      "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ),
  ],
  row: (o) => ({ cells: [str(meta(o).name), createdAt(meta(o).creationTimestamp)] }),
};

function printerFor(info: Pick<ResourceInfo, "group" | "kind">): Printer {
  return PRINTERS[`${info.group}/${info.kind}`] ?? DEFAULT_PRINTER;
}

/** The column definitions the server sends for a resource (all priorities). */
export function columnsFor(info: Pick<ResourceInfo, "group" | "kind">): TableColumnDefinition[] {
  return printerFor(info).columns.map((c) => ({ ...c }));
}

/** Whether a resource has its own printer (otherwise it gets Name / Created At). */
export function hasPrinter(info: Pick<ResourceInfo, "group" | "kind">): boolean {
  return PRINTERS[`${info.group}/${info.kind}`] !== undefined;
}

/** Converts objects (a list or one object) of a resource into a Table. */
export function toTable(
  info: Pick<ResourceInfo, "group" | "kind">,
  items: readonly KubeObject[],
  opts: TableOptions = {},
  now: number = Date.now(),
): Table {
  const printer = printerFor(info);
  const apiVersion = opts.apiVersion ?? "meta.k8s.io/v1";
  const include = opts.includeObject ?? "Metadata";
  const rows = items.map((item): TableRow => {
    const r = printer.row(item, now);
    const row: TableRow = { cells: r.cells };
    if (r.conditions) row.conditions = r.conditions.map((c) => ({ ...c }));
    if (include === "Object") {
      row.object = item;
    } else if (include === "Metadata") {
      row.object = { kind: "PartialObjectMetadata", apiVersion, metadata: item.metadata ?? {} };
    }
    return row;
  });
  const metadata: Table["metadata"] = {};
  const lm =
    opts.listMeta ?? (items.length === 1 ? { resourceVersion: items[0]!.metadata?.resourceVersion } : {});
  if (lm.resourceVersion) metadata.resourceVersion = lm.resourceVersion;
  if (lm.continue) metadata.continue = lm.continue;
  if (typeof lm.remainingItemCount === "number") metadata.remainingItemCount = lm.remainingItemCount;
  return { kind: "Table", apiVersion, metadata, columnDefinitions: columnsFor(info), rows };
}
