/**
 * Semantic validation of every served kind, after defaulting, with upstream's field paths,
 * reasons and wording (pkg/apis/<group>/validation). `validateCreate` checks a new object,
 * `validateUpdate` a replacement: everything `validateCreate` checks plus immutability.
 * Objects come in the version the request speaks (autoscaling/v1 HPAs are checked through
 * their autoscaling/v2 form, as upstream checks the internal form). Pure, no I/O.
 *
 * Deliberately not checked here: things decided after validation (Service clusterIPs,
 * nodePorts and healthCheckNodePort come from the allocator) and nodePort ranges.
 */
import { hpaV1ToV2 } from "./conversion.js";
import type { KubeObject } from "./object.js";
import { findByKind } from "./resources.js";
import type { StatusCause } from "./status.js";
import {
  asArr,
  asObj,
  asStr,
  FIELD_IMMUTABLE,
  fieldDuplicate,
  fieldForbidden,
  fieldInvalid,
  fieldNotFound,
  fieldNotSupported,
  fieldRequired,
  fieldTooLong,
  fieldTooMany,
  inclusiveRangeError,
  invalidEach,
  ipFamilyOf,
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isDomainPrefixedPath,
  isEnvVarName,
  isObj,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidIPv4Address,
  isValidIPv6Address,
  isValidLabelValue,
  isValidPathSegmentName,
  isValidPortName,
  isValidPortNum,
  isWildcardDNS1123Subdomain,
  jsonEqual,
  type NameValidator,
  nameIsDNS1035Label,
  nameIsDNSLabel,
  nameIsDNSSubdomain,
  nameIsPathSegment,
  nonSpecialIPErrors,
  type Obj,
  QUANTITY_ERROR,
  tryParseQuantity,
  validateAnnotations,
  validateLabels,
  validatePortNumOrName,
} from "./validation-rules.js";

type Errs = StatusCause[];

const idx = (path: string, i: number): string => `${path}[${i}]`;
const key = (path: string, k: string): string => `${path}[${k}]`;

function objects(v: unknown): Obj[] {
  return asArr(v).map(asObj);
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

function nonNegative(errs: Errs, v: unknown, path: string): void {
  if (!isSet(v)) return;
  if (!isInt(v) || v < 0) errs.push(fieldInvalid(path, v, "must be greater than or equal to 0"));
}

/** Required when empty, NotSupported when not one of `allowed` (given in upstream's sorted order) */
function oneOf(errs: Errs, v: unknown, path: string, allowed: readonly string[], mustBeSet = true): void {
  if (v === undefined || v === null || v === "") {
    if (mustBeSet) errs.push(fieldRequired(path));
    return;
  }
  if (typeof v !== "string" || !allowed.includes(v)) errs.push(fieldNotSupported(path, v, allowed));
}

function immutable(errs: Errs, now: unknown, before: unknown, path: string): void {
  if (!jsonEqual(now, before)) errs.push(fieldInvalid(path, now, FIELD_IMMUTABLE));
}

// ---------------------------------------------------------------------------------------
// metadata

interface MetaOptions {
  /** undefined: unknown kind, namespace not checked */
  namespaced: boolean | undefined;
  /** how metadata.name is checked; null: not at all */
  nameFn: NameValidator | null;
}

function validateOwnerReferences(errs: Errs, refs: unknown, path: string): void {
  const list = objects(refs);
  const controllers: string[] = [];
  for (const ref of list) {
    const apiVersion = asStr(ref.apiVersion);
    const version = apiVersion.includes("/") ? apiVersion.slice(apiVersion.indexOf("/") + 1) : apiVersion;
    if (!version) errs.push(fieldInvalid(`${path}.apiVersion`, apiVersion, "version must not be empty"));
    if (!asStr(ref.kind)) errs.push(fieldInvalid(`${path}.kind`, asStr(ref.kind), "kind must not be empty"));
    if (!asStr(ref.name)) errs.push(fieldInvalid(`${path}.name`, asStr(ref.name), "name must not be empty"));
    if (!asStr(ref.uid)) errs.push(fieldInvalid(`${path}.uid`, asStr(ref.uid), "uid must not be empty"));
    if (ref.controller === true) controllers.push(`${asStr(ref.kind)}/${asStr(ref.name)}`);
  }
  if (controllers.length > 1) {
    errs.push(
      fieldInvalid(
        path,
        refs,
        `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(" and ")}`,
      ),
    );
  }
}

function validateFinalizers(errs: Errs, finalizers: unknown, path: string): void {
  const list = asArr(finalizers);
  for (const f of list) {
    if (typeof f !== "string") errs.push(fieldInvalid(path, f, "must be a string"));
    else errs.push(...invalidEach(path, f, isQualifiedName(f)));
  }
  if (list.includes("orphan") && list.includes("foregroundDeletion")) {
    errs.push(fieldInvalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"));
  }
}

function validateObjectMeta(errs: Errs, metaIn: unknown, opts: MetaOptions): void {
  const meta = asObj(metaIn);
  const name = meta.name;
  const generateName = meta.generateName;
  if (typeof generateName === "string" && generateName !== "" && opts.nameFn) {
    errs.push(...invalidEach("metadata.generateName", generateName, opts.nameFn(generateName, true)));
  }
  if (name === undefined || name === null || name === "") {
    if (!generateName) errs.push(fieldRequired("metadata.name", "name or generateName is required"));
  } else if (typeof name !== "string") {
    errs.push(fieldInvalid("metadata.name", name, "must be a string"));
  } else if (opts.nameFn) {
    errs.push(...invalidEach("metadata.name", name, opts.nameFn(name, false)));
  }
  const ns = meta.namespace;
  if (opts.namespaced === true) {
    if (!ns) errs.push(fieldRequired("metadata.namespace"));
    else if (typeof ns !== "string") errs.push(fieldInvalid("metadata.namespace", ns, "must be a string"));
    else errs.push(...invalidEach("metadata.namespace", ns, isDNS1123Label(ns)));
  } else if (opts.namespaced === false && ns) {
    errs.push(fieldForbidden("metadata.namespace", "not allowed on this type"));
  }
  if (isSet(meta.generation) && (!isInt(meta.generation) || meta.generation < 0)) {
    errs.push(fieldInvalid("metadata.generation", meta.generation, "must be greater than or equal to 0"));
  }
  errs.push(...validateLabels(meta.labels, "metadata.labels"));
  errs.push(...validateAnnotations(meta.annotations, "metadata.annotations"));
  validateOwnerReferences(errs, meta.ownerReferences, "metadata.ownerReferences");
  validateFinalizers(errs, meta.finalizers, "metadata.finalizers");
}

function validateObjectMetaUpdate(errs: Errs, metaIn: unknown, oldIn: unknown): void {
  const meta = asObj(metaIn);
  const old = asObj(oldIn);
  for (const f of ["name", "namespace", "uid", "creationTimestamp"]) {
    if ((meta[f] ?? "") !== (old[f] ?? ""))
      errs.push(fieldInvalid(`metadata.${f}`, meta[f] ?? "", FIELD_IMMUTABLE));
  }
  if (isSet(old.deletionTimestamp) && meta.deletionTimestamp !== old.deletionTimestamp) {
    errs.push(fieldInvalid("metadata.deletionTimestamp", meta.deletionTimestamp ?? null, FIELD_IMMUTABLE));
  }
  if (
    isSet(old.deletionGracePeriodSeconds) &&
    meta.deletionGracePeriodSeconds !== old.deletionGracePeriodSeconds
  ) {
    errs.push(
      fieldInvalid(
        "metadata.deletionGracePeriodSeconds",
        meta.deletionGracePeriodSeconds ?? null,
        FIELD_IMMUTABLE,
      ),
    );
  }
  if (isInt(meta.generation) && isInt(old.generation) && meta.generation < old.generation) {
    errs.push(fieldInvalid("metadata.generation", meta.generation, "must not be decremented"));
  }
  if (isSet(old.deletionTimestamp)) {
    const before = new Set(asArr(old.finalizers));
    const added = asArr(meta.finalizers).filter((f) => !before.has(f));
    if (added.length) {
      errs.push(
        fieldForbidden(
          "metadata.finalizers",
          `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        ),
      );
    }
  }
}

// ---------------------------------------------------------------------------------------
// label selectors

function validateLabelSelector(errs: Errs, selIn: unknown, path: string): void {
  if (!isSet(selIn)) return;
  const sel = asObj(selIn);
  errs.push(...validateLabels(sel.matchLabels, `${path}.matchLabels`));
  objects(sel.matchExpressions).forEach((e, i) => {
    const p = idx(`${path}.matchExpressions`, i);
    const values = asArr(e.values);
    switch (e.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0)
          errs.push(fieldRequired(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0)
          errs.push(
            fieldForbidden(
              `${p}.values`,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
          );
        break;
      default:
        errs.push(fieldInvalid(`${p}.operator`, e.operator ?? "", "not a valid selector operator"));
    }
    errs.push(...invalidEach(`${p}.key`, asStr(e.key), isQualifiedName(asStr(e.key))));
    values.forEach((v, j) => {
      errs.push(
        ...invalidEach(
          idx(`${p}.values`, j),
          v,
          typeof v === "string" ? isValidLabelValue(v) : ["must be a string"],
        ),
      );
    });
  });
}

function selectorIsEmpty(sel: Obj): boolean {
  return Object.keys(asObj(sel.matchLabels)).length + asArr(sel.matchExpressions).length === 0;
}

/** does metav1.LabelSelector `sel` select `labels` */
export function selectorMatches(selIn: unknown, labelsIn: unknown): boolean {
  if (!isObj(selIn)) return false;
  const labels = asObj(labelsIn);
  for (const [k, v] of Object.entries(asObj(selIn.matchLabels))) if (labels[k] !== v) return false;
  for (const e of objects(selIn.matchExpressions)) {
    const k = asStr(e.key);
    const has = Object.hasOwn(labels, k);
    const values = asArr(e.values);
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[k])) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[k])) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// pods

const PROTOCOLS = ["SCTP", "TCP", "UDP"];
const RESTART_POLICIES = ["Always", "Never", "OnFailure"];
const DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES = ["FallbackToLogsOnError", "File"];
const TAINT_EFFECTS = ["NoExecute", "NoSchedule", "PreferNoSchedule"];
const HANDLER_TYPES = ["exec", "httpGet", "tcpSocket", "grpc"];
const MAX_INT32 = 2147483647;

interface PodContext {
  /** a pod template (Deployment, ReplicaSet, DaemonSet) rather than a Pod */
  template: boolean;
  volumes: Set<string>;
  containerNames: Set<string>;
  hostPorts: Set<string>;
  hostNetwork: boolean;
}

function validateResources(errs: Errs, resIn: unknown, path: string): void {
  if (!isSet(resIn)) return;
  const res = asObj(resIn);
  const parsed: Record<"limits" | "requests", Map<string, number>> = {
    limits: new Map(),
    requests: new Map(),
  };
  for (const kind of ["limits", "requests"] as const) {
    for (const [name, q] of Object.entries(asObj(res[kind]))) {
      const p = key(`${path}.${kind}`, name);
      errs.push(...invalidEach(p, name, isQualifiedName(name)));
      const v = tryParseQuantity(q);
      if (v === undefined) errs.push(fieldInvalid(p, q, QUANTITY_ERROR));
      else if (v < 0) errs.push(fieldInvalid(p, q, "must be greater than or equal to 0"));
      else parsed[kind].set(name, v);
    }
  }
  const limits = asObj(res.limits);
  const requests = asObj(res.requests);
  for (const [name, req] of parsed.requests) {
    const lim = parsed.limits.get(name);
    if (lim === undefined) continue;
    if (name.startsWith("hugepages-") && req !== lim) {
      errs.push(
        fieldInvalid(
          `${path}.requests`,
          requests[name],
          `must be equal to ${name} limit of ${String(limits[name])}`,
        ),
      );
    } else if (req > lim) {
      errs.push(
        fieldInvalid(
          `${path}.requests`,
          requests[name],
          `must be less than or equal to ${name} limit of ${String(limits[name])}`,
        ),
      );
    }
  }
}

function validateHandler(errs: Errs, h: Obj, path: string, kinds: readonly string[]): void {
  const present = kinds.filter((k) => isSet(h[k]));
  if (present.length === 0) {
    errs.push(fieldRequired(path, "must specify a handler type"));
    return;
  }
  for (const extra of present.slice(1))
    errs.push(fieldForbidden(`${path}.${extra}`, "may not specify more than 1 handler type"));
  const kind = present[0]!;
  const v = asObj(h[kind]);
  const p = `${path}.${kind}`;
  switch (kind) {
    case "exec":
      break;
    case "httpGet":
      if (!isSet(v.port)) errs.push(fieldRequired(`${p}.port`));
      else errs.push(...validatePortNumOrName(v.port, `${p}.port`));
      oneOf(errs, v.scheme, `${p}.scheme`, ["HTTP", "HTTPS"], false);
      if (isSet(v.path) && typeof v.path === "string" && v.path !== "" && !v.path.startsWith("/")) {
        errs.push(fieldInvalid(`${p}.path`, v.path, "must be an absolute path"));
      }
      break;
    case "tcpSocket":
      if (!isSet(v.port)) errs.push(fieldRequired(`${p}.port`));
      else errs.push(...validatePortNumOrName(v.port, `${p}.port`));
      break;
    case "grpc":
      errs.push(...invalidEach(`${p}.port`, v.port, isValidPortNum(v.port)));
      break;
  }
}

function validateProbe(errs: Errs, probeIn: unknown, path: string, successMustBeOne: boolean): void {
  if (!isSet(probeIn)) return;
  const probe = asObj(probeIn);
  validateHandler(errs, probe, path, HANDLER_TYPES);
  for (const f of [
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
  ]) {
    nonNegative(errs, probe[f], `${path}.${f}`);
  }
  if (
    isSet(probe.terminationGracePeriodSeconds) &&
    (!isInt(probe.terminationGracePeriodSeconds) || probe.terminationGracePeriodSeconds <= 0)
  ) {
    errs.push(
      fieldInvalid(
        `${path}.terminationGracePeriodSeconds`,
        probe.terminationGracePeriodSeconds,
        "must be greater than 0",
      ),
    );
  }
  if (successMustBeOne && isSet(probe.successThreshold) && probe.successThreshold !== 1) {
    errs.push(fieldInvalid(`${path}.successThreshold`, probe.successThreshold, "must be 1"));
  }
}

function validateEnv(errs: Errs, envIn: unknown, path: string): void {
  objects(envIn).forEach((e, i) => {
    const p = idx(path, i);
    const name = e.name;
    if (!name) errs.push(fieldRequired(`${p}.name`));
    else
      errs.push(
        ...invalidEach(
          `${p}.name`,
          name,
          typeof name === "string" ? isEnvVarName(name) : ["must be a string"],
        ),
      );
    if (isSet(e.valueFrom)) {
      const from = asObj(e.valueFrom);
      const sources = [
        "fieldRef",
        "resourceFieldRef",
        "configMapKeyRef",
        "secretKeyRef",
        "fileKeyRef",
      ].filter((k) => isSet(from[k]));
      if (typeof e.value === "string" && e.value !== "") {
        errs.push(fieldInvalid(`${p}.valueFrom`, "", "may not be specified when `value` is not empty"));
      }
      if (sources.length === 0) {
        errs.push(
          fieldInvalid(
            `${p}.valueFrom`,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
          ),
        );
      } else if (sources.length > 1) {
        errs.push(fieldInvalid(`${p}.valueFrom`, "", "may not have more than one field specified at a time"));
      }
      if (isSet(from.fieldRef)) {
        const ref = asObj(from.fieldRef);
        if (!ref.fieldPath) errs.push(fieldRequired(`${p}.valueFrom.fieldRef.fieldPath`));
      }
      for (const k of ["configMapKeyRef", "secretKeyRef"]) {
        if (!isSet(from[k])) continue;
        const ref = asObj(from[k]);
        if (!ref.key) errs.push(fieldRequired(`${p}.valueFrom.${k}.key`));
        else errs.push(...invalidEach(`${p}.valueFrom.${k}.key`, ref.key, isConfigMapKey(asStr(ref.key))));
      }
    }
  });
}

function validateContainerPorts(errs: Errs, portsIn: unknown, path: string, ctx: PodContext): void {
  const names = new Set<string>();
  objects(portsIn).forEach((port, i) => {
    const p = idx(path, i);
    const name = asStr(port.name);
    if (name) {
      const msgs = isValidPortName(name);
      if (msgs.length) errs.push(...invalidEach(`${p}.name`, name, msgs));
      else if (names.has(name)) errs.push(fieldDuplicate(`${p}.name`, name));
      else names.add(name);
    }
    if (!isSet(port.containerPort) || port.containerPort === 0)
      errs.push(fieldRequired(`${p}.containerPort`));
    else
      errs.push(...invalidEach(`${p}.containerPort`, port.containerPort, isValidPortNum(port.containerPort)));
    const hostPort = port.hostPort;
    if (isSet(hostPort) && hostPort !== 0) {
      errs.push(...invalidEach(`${p}.hostPort`, hostPort, isValidPortNum(hostPort)));
      if (ctx.hostNetwork && hostPort !== port.containerPort) {
        errs.push(
          fieldInvalid(`${p}.hostPort`, hostPort, "must match `containerPort` when `hostNetwork` is true"),
        );
      }
      const id = `${asStr(port.hostIP)}/${asStr(port.protocol)}/${String(hostPort)}`;
      if (ctx.hostPorts.has(id)) errs.push(fieldDuplicate(`${p}.hostPort`, id));
      else ctx.hostPorts.add(id);
    }
    oneOf(errs, port.protocol, `${p}.protocol`, PROTOCOLS);
    if (isSet(port.hostIP) && port.hostIP !== "")
      errs.push(...invalidEach(`${p}.hostIP`, port.hostIP, isValidIP(asStr(port.hostIP))));
  });
}

function validateVolumeMounts(errs: Errs, mountsIn: unknown, path: string, ctx: PodContext): void {
  const paths = new Set<string>();
  objects(mountsIn).forEach((m, i) => {
    const p = idx(path, i);
    const name = asStr(m.name);
    if (!name) errs.push(fieldRequired(`${p}.name`));
    else if (!ctx.volumes.has(name)) errs.push(fieldNotFound(`${p}.name`, name));
    const mountPath = asStr(m.mountPath);
    if (!mountPath) errs.push(fieldRequired(`${p}.mountPath`));
    else if (paths.has(mountPath)) errs.push(fieldInvalid(`${p}.mountPath`, mountPath, "must be unique"));
    else paths.add(mountPath);
  });
}

type ContainerKind = "containers" | "initContainers" | "ephemeralContainers";

function validateContainer(errs: Errs, c: Obj, path: string, kind: ContainerKind, ctx: PodContext): void {
  const name = c.name;
  if (!name) errs.push(fieldRequired(`${path}.name`));
  else if (typeof name !== "string") errs.push(fieldInvalid(`${path}.name`, name, "must be a string"));
  else {
    errs.push(...invalidEach(`${path}.name`, name, isDNS1123Label(name)));
    if (ctx.containerNames.has(name)) errs.push(fieldDuplicate(`${path}.name`, name));
    else ctx.containerNames.add(name);
  }
  const image = c.image;
  if (typeof image !== "string" || image.length === 0) {
    // templates may leave the image to be filled in later only by whitespace, as upstream tolerates
    errs.push(fieldRequired(`${path}.image`));
  } else if (!ctx.template && image.trim() !== image) {
    errs.push(fieldInvalid(`${path}.image`, image, "must not have leading or trailing whitespace"));
  }
  oneOf(errs, c.imagePullPolicy, `${path}.imagePullPolicy`, PULL_POLICIES);
  oneOf(errs, c.terminationMessagePolicy, `${path}.terminationMessagePolicy`, TERMINATION_MESSAGE_POLICIES);
  validateContainerPorts(errs, c.ports, `${path}.ports`, ctx);
  validateEnv(errs, c.env, `${path}.env`);
  validateVolumeMounts(errs, c.volumeMounts, `${path}.volumeMounts`, ctx);
  validateResources(errs, c.resources, `${path}.resources`);
  const sidecar = kind === "initContainers" && c.restartPolicy === "Always";
  if (kind === "initContainers") {
    if (isSet(c.restartPolicy)) oneOf(errs, c.restartPolicy, `${path}.restartPolicy`, ["Always"]);
    if (!sidecar) {
      for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
        if (isSet(c[probe]))
          errs.push(
            fieldForbidden(
              `${path}.${probe}`,
              "may not be set for init containers without restartPolicy=Always",
            ),
          );
      }
    }
  } else if (kind === "containers" && isSet(c.restartPolicy)) {
    errs.push(fieldForbidden(`${path}.restartPolicy`, "may not be set for non-init containers"));
  }
  if (kind === "ephemeralContainers") {
    for (const f of ["ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"]) {
      if (isSet(c[f]) && !(Array.isArray(c[f]) && (c[f] as unknown[]).length === 0)) {
        errs.push(fieldForbidden(`${path}.${f}`, "cannot be set for an Ephemeral Container"));
      }
    }
    return;
  }
  validateProbe(errs, c.livenessProbe, `${path}.livenessProbe`, true);
  validateProbe(errs, c.readinessProbe, `${path}.readinessProbe`, false);
  validateProbe(errs, c.startupProbe, `${path}.startupProbe`, true);
  if (isSet(c.lifecycle)) {
    const lc = asObj(c.lifecycle);
    for (const hook of ["postStart", "preStop"]) {
      if (isSet(lc[hook]))
        validateHandler(errs, asObj(lc[hook]), `${path}.lifecycle.${hook}`, [
          "exec",
          "httpGet",
          "tcpSocket",
          "sleep",
        ]);
    }
  }
}

function validateVolumes(errs: Errs, volumesIn: unknown, path: string, ctx: PodContext): void {
  objects(volumesIn).forEach((v, i) => {
    const p = idx(path, i);
    const name = asStr(v.name);
    if (!name) errs.push(fieldRequired(`${p}.name`));
    else {
      errs.push(...invalidEach(`${p}.name`, name, isDNS1123Label(name)));
      if (ctx.volumes.has(name)) errs.push(fieldDuplicate(`${p}.name`, name));
      else ctx.volumes.add(name);
    }
    const sources = Object.keys(v).filter((k) => k !== "name" && isSet(v[k]));
    if (sources.length === 0) errs.push(fieldRequired(p, "must specify a volume type"));
    for (const extra of sources.slice(1))
      errs.push(fieldForbidden(`${p}.${extra}`, "may not specify more than 1 volume type"));
    const src = sources[0];
    if (src === "hostPath") {
      const hp = asObj(v.hostPath);
      if (!hp.path) errs.push(fieldRequired(`${p}.hostPath.path`));
    } else if (src === "configMap" || src === "secret") {
      const ref = asObj(v[src]);
      const nameField = src === "secret" ? "secretName" : "name";
      if (src === "configMap" && !ref.name) errs.push(fieldRequired(`${p}.configMap.name`));
      if (src === "secret" && !ref.secretName) errs.push(fieldRequired(`${p}.secret.secretName`));
      const refName = asStr(ref[nameField]);
      if (refName)
        errs.push(...invalidEach(`${p}.${src}.${nameField}`, refName, isDNS1123Subdomain(refName)));
    }
  });
}

function validateTolerations(errs: Errs, tolerationsIn: unknown, path: string): void {
  objects(tolerationsIn).forEach((t, i) => {
    const p = idx(path, i);
    const k = asStr(t.key);
    if (k) errs.push(...invalidEach(`${p}.key`, k, isQualifiedName(k)));
    if (!k && t.operator !== "Exists") {
      errs.push(
        fieldInvalid(
          `${p}.operator`,
          t.operator ?? "",
          'operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ),
      );
    }
    if (isSet(t.tolerationSeconds) && t.effect !== "NoExecute") {
      errs.push(
        fieldInvalid(
          `${p}.effect`,
          t.effect ?? "",
          "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ),
      );
    }
    switch (t.operator ?? "") {
      case "":
      case "Equal":
        errs.push(...invalidEach(`${p}.value`, asStr(t.value), isValidLabelValue(asStr(t.value))));
        break;
      case "Exists":
        if (asStr(t.value) !== "")
          errs.push(fieldInvalid(`${p}.operator`, t, "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(fieldNotSupported(`${p}.operator`, t.operator, ["Equal", "Exists"]));
    }
    if (isSet(t.effect) && t.effect !== "") oneOf(errs, t.effect, `${p}.effect`, TAINT_EFFECTS);
  });
}

/** ValidatePodSpec; `path` is "spec" for pods, "spec.template.spec" for templates */
function validatePodSpec(errs: Errs, specIn: unknown, path: string, template: boolean): void {
  const spec = asObj(specIn);
  const ctx: PodContext = {
    template,
    volumes: new Set(),
    containerNames: new Set(),
    hostPorts: new Set(),
    hostNetwork: spec.hostNetwork === true,
  };
  validateVolumes(errs, spec.volumes, `${path}.volumes`, ctx);
  const containers = objects(spec.containers);
  if (containers.length === 0) errs.push(fieldRequired(`${path}.containers`));
  // init containers first: upstream reports a name clash on the regular container
  objects(spec.initContainers).forEach((c, i) => {
    validateContainer(errs, c, idx(`${path}.initContainers`, i), "initContainers", ctx);
  });
  containers.forEach((c, i) => {
    validateContainer(errs, c, idx(`${path}.containers`, i), "containers", ctx);
  });
  objects(spec.ephemeralContainers).forEach((c, i) => {
    validateContainer(errs, c, idx(`${path}.ephemeralContainers`, i), "ephemeralContainers", ctx);
  });
  oneOf(errs, spec.restartPolicy, `${path}.restartPolicy`, RESTART_POLICIES);
  oneOf(errs, spec.dnsPolicy, `${path}.dnsPolicy`, DNS_POLICIES);
  if (spec.dnsPolicy === "None" && !isSet(spec.dnsConfig)) {
    errs.push(fieldRequired(`${path}.dnsConfig`, "must provide `dnsConfig` when `dnsPolicy` is None"));
  }
  for (const f of ["nodeName", "serviceAccountName", "priorityClassName"]) {
    const v = spec[f];
    if (typeof v === "string" && v !== "")
      errs.push(...invalidEach(`${path}.${f}`, v, isDNS1123Subdomain(v)));
  }
  for (const f of ["hostname", "subdomain"]) {
    const v = spec[f];
    if (typeof v === "string" && v !== "") errs.push(...invalidEach(`${path}.${f}`, v, isDNS1123Label(v)));
  }
  errs.push(...validateLabels(spec.nodeSelector, `${path}.nodeSelector`));
  if (isSet(spec.activeDeadlineSeconds)) {
    const v = spec.activeDeadlineSeconds;
    if (!isInt(v) || v < 1 || v > MAX_INT32)
      errs.push(fieldInvalid(`${path}.activeDeadlineSeconds`, v, inclusiveRangeError(1, MAX_INT32)));
  }
  if (isSet(spec.terminationGracePeriodSeconds) && !isInt(spec.terminationGracePeriodSeconds)) {
    errs.push(
      fieldInvalid(
        `${path}.terminationGracePeriodSeconds`,
        spec.terminationGracePeriodSeconds,
        "must be an integer",
      ),
    );
  }
  validateTolerations(errs, spec.tolerations, `${path}.tolerations`);
  if (isSet(spec.preemptionPolicy))
    oneOf(errs, spec.preemptionPolicy, `${path}.preemptionPolicy`, ["Never", "PreemptLowerPriority"]);
  objects(spec.hostAliases).forEach((a, i) => {
    errs.push(...invalidEach(`${idx(`${path}.hostAliases`, i)}.ip`, asStr(a.ip), isValidIP(asStr(a.ip))));
  });
}

function validatePodTemplate(errs: Errs, templateIn: unknown, path: string): void {
  if (!isSet(templateIn)) {
    errs.push(fieldRequired(path));
    return;
  }
  const template = asObj(templateIn);
  const meta = asObj(template.metadata);
  errs.push(...validateLabels(meta.labels, `${path}.metadata.labels`));
  errs.push(...validateAnnotations(meta.annotations, `${path}.metadata.annotations`));
  validatePodSpec(errs, template.spec, `${path}.spec`, true);
}

function validatePod(errs: Errs, obj: KubeObject): void {
  validatePodSpec(errs, obj.spec, "spec", false);
  validatePodStatusIPs(errs, obj);
}

/** the addresses a kubelet reports must be IPs (consumers such as EndpointSlices rely on it) */
function validatePodStatusIPs(errs: Errs, obj: KubeObject): void {
  const status = asObj(obj.status);
  for (const [single, list, item] of [
    ["podIP", "podIPs", "ip"],
    ["hostIP", "hostIPs", "ip"],
  ] as const) {
    if (isSet(status[single]) && status[single] !== "") {
      for (const m of isValidIP(String(status[single])))
        errs.push(fieldInvalid(`status.${single}`, status[single], m));
    }
    objects(status[list]).forEach((entry, i) => {
      for (const m of isValidIP(String(entry[item] ?? "")))
        errs.push(fieldInvalid(`status.${list}[${i}].${item}`, entry[item], m));
    });
  }
}

function validatePodCreate(errs: Errs, obj: KubeObject): void {
  if (asArr(asObj(obj.spec).ephemeralContainers).length > 0)
    errs.push(fieldForbidden("spec.ephemeralContainers", "cannot be set on create"));
}

const UPDATABLE_POD_FIELDS = [
  "`spec.containers[*].image`",
  "`spec.initContainers[*].image`",
  "`spec.activeDeadlineSeconds`",
  "`spec.tolerations` (only additions to existing tolerations)",
  "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
].join(",");

/** the paths where two JSON values differ, for the pod-update message */
function differingPaths(a: unknown, b: unknown, path: string, out: string[]): void {
  if (out.length >= 10 || jsonEqual(a, b)) return;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => {
      differingPaths(x, b[i], idx(path, i), out);
    });
    return;
  }
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      differingPaths(a[k], b[k], `${path}.${k}`, out);
    return;
  }
  out.push(`${path}: ${JSON.stringify(b ?? null)} -> ${JSON.stringify(a ?? null)}`);
}

function validatePodUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  const spec = asObj(obj.spec);
  const oldSpec = asObj(old.spec);
  for (const kind of ["containers", "initContainers"] as const) {
    if (asArr(spec[kind]).length !== asArr(oldSpec[kind]).length) {
      errs.push(fieldForbidden(`spec.${kind}`, "pod updates may not add or remove containers"));
      return;
    }
  }
  const ads = spec.activeDeadlineSeconds;
  const oldAds = oldSpec.activeDeadlineSeconds;
  if (isSet(ads)) {
    if (!isInt(ads) || ads < 0 || ads > MAX_INT32) {
      errs.push(fieldInvalid("spec.activeDeadlineSeconds", ads, inclusiveRangeError(0, MAX_INT32)));
      return;
    }
    if (isInt(oldAds) && oldAds < ads) {
      errs.push(
        fieldInvalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value"),
      );
      return;
    }
  } else if (isSet(oldAds)) {
    errs.push(
      fieldInvalid(
        "spec.activeDeadlineSeconds",
        null,
        "must not update from a positive integer to nil value",
      ),
    );
  }
  // tolerations: existing ones stay (their tolerationSeconds may change), new ones may be added
  const newTolerations = objects(spec.tolerations);
  for (const t of objects(oldSpec.tolerations)) {
    const found = newTolerations.some((n) => jsonEqual({ ...t, tolerationSeconds: n.tolerationSeconds }, n));
    if (!found) {
      errs.push(
        fieldForbidden(
          "spec.tolerations",
          "existing toleration can not be modified except its tolerationSeconds",
        ),
      );
      break;
    }
  }
  if (jsonEqual(spec, oldSpec)) return;
  const munged: Obj = structuredClone(spec);
  for (const kind of ["containers", "initContainers"] as const) {
    const oldList = objects(oldSpec[kind]);
    munged[kind] = objects(munged[kind]).map((c, i) => ({ ...c, image: oldList[i]?.image }));
    if (!isSet(spec[kind])) delete munged[kind];
  }
  if (isSet(oldAds)) munged.activeDeadlineSeconds = oldAds;
  else delete munged.activeDeadlineSeconds;
  if (isSet(oldSpec.tolerations)) munged.tolerations = oldSpec.tolerations;
  else delete munged.tolerations;
  if (isSet(oldSpec.schedulingGates)) munged.schedulingGates = oldSpec.schedulingGates;
  else delete munged.schedulingGates;
  // the binding subresource (routed through update here) sets nodeName once
  if (!oldSpec.nodeName && typeof spec.nodeName === "string") {
    if (isSet(oldSpec.nodeName)) munged.nodeName = oldSpec.nodeName;
    else delete munged.nodeName;
  }
  const oldGrace = oldSpec.terminationGracePeriodSeconds;
  if (isInt(oldGrace) && oldGrace < 0 && munged.terminationGracePeriodSeconds === 1)
    munged.terminationGracePeriodSeconds = oldGrace;
  if (!jsonEqual(munged, oldSpec)) {
    const diff: string[] = [];
    differingPaths(munged, oldSpec, "spec", diff);
    errs.push(
      fieldForbidden(
        "spec",
        `pod updates may not change fields other than ${UPDATABLE_POD_FIELDS}\n${diff.map((d) => `  ${d}`).join("\n")}`,
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------
// services and endpoints

const SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const TRAFFIC_POLICIES = ["Cluster", "Local"];
const IP_FAMILIES = ["IPv4", "IPv6"];
const IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"];

function clusterIPsOf(spec: Obj): string[] {
  const list = asArr(spec.clusterIPs).map((x) => asStr(x));
  if (list.length) return list;
  return typeof spec.clusterIP === "string" && spec.clusterIP !== "" ? [spec.clusterIP] : [];
}

function isHeadless(spec: Obj): boolean {
  const ips = clusterIPsOf(spec);
  return ips.length === 1 && ips[0] === "None";
}

function externallyAccessible(spec: Obj): boolean {
  return (
    spec.type === "LoadBalancer" ||
    spec.type === "NodePort" ||
    (spec.type === "ClusterIP" && asArr(spec.externalIPs).length > 0)
  );
}

function validateServicePort(
  errs: Errs,
  sp: Obj,
  path: string,
  requireName: boolean,
  names: Set<string>,
): void {
  const name = asStr(sp.name);
  if (requireName && !name) errs.push(fieldRequired(`${path}.name`));
  else if (name) {
    errs.push(...invalidEach(`${path}.name`, name, isDNS1123Label(name)));
    if (names.has(name)) errs.push(fieldDuplicate(`${path}.name`, name));
    else names.add(name);
  }
  errs.push(...invalidEach(`${path}.port`, sp.port ?? 0, isValidPortNum(sp.port)));
  oneOf(errs, sp.protocol, `${path}.protocol`, PROTOCOLS);
  if (isSet(sp.targetPort)) errs.push(...validatePortNumOrName(sp.targetPort, `${path}.targetPort`));
  if (isSet(sp.appProtocol))
    errs.push(...invalidEach(`${path}.appProtocol`, sp.appProtocol, isQualifiedName(asStr(sp.appProtocol))));
  if (isSet(sp.nodePort) && sp.nodePort !== 0)
    errs.push(...invalidEach(`${path}.nodePort`, sp.nodePort, isValidPortNum(sp.nodePort)));
}

function validateClusterIPFields(errs: Errs, spec: Obj): void {
  const ipsField = "spec.clusterIPs";
  const clusterIP = asStr(spec.clusterIP);
  const ips = asArr(spec.clusterIPs).map((x) => asStr(x));
  if (clusterIP !== "") {
    if (ips.length && ips[0] !== clusterIP)
      errs.push(fieldInvalid(ipsField, spec.clusterIPs, "first value must match `clusterIP`"));
  } else if (ips.length) {
    errs.push(fieldInvalid(ipsField, spec.clusterIPs, "must be empty when `clusterIP` is not specified"));
  }
  const all = clusterIPsOf(spec);
  const seen = new Set<string>();
  asArr(spec.ipFamilies).forEach((f, i) => {
    if (typeof f !== "string" || !IP_FAMILIES.includes(f))
      errs.push(fieldNotSupported(idx("spec.ipFamilies", i), f, IP_FAMILIES));
    if (seen.has(asStr(f))) errs.push(fieldDuplicate(idx("spec.ipFamilies", i), f));
    seen.add(asStr(f));
  });
  if (isSet(spec.ipFamilyPolicy)) oneOf(errs, spec.ipFamilyPolicy, "spec.ipFamilyPolicy", IP_FAMILY_POLICIES);
  let bad = false;
  all.forEach((ip, i) => {
    if (i === 0 && ip === "None") {
      if (all.length > 1) {
        bad = true;
        errs.push(fieldInvalid(ipsField, all, "'None' must be the first and only value"));
      }
      return;
    }
    const msgs = isValidIP(ip);
    if (msgs.length) {
      bad = true;
      errs.push(...invalidEach(idx(ipsField, i), ip, msgs));
    }
  });
  if (all.length > 2) errs.push(fieldInvalid(ipsField, all, "may only hold up to 2 values"));
  if (bad) return;
  if (all.length === 2 && ipFamilyOf(all[0]!) === ipFamilyOf(all[1]!)) {
    errs.push(fieldInvalid(ipsField, all, "may specify no more than one IP for each IP family"));
  }
  const families = asArr(spec.ipFamilies);
  if ((all.length > 1 || families.length > 1) && spec.ipFamilyPolicy === "SingleStack") {
    errs.push(
      fieldInvalid(
        "spec.ipFamilyPolicy",
        "SingleStack",
        "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
      ),
    );
  }
  if (!isHeadless(spec)) {
    all.forEach((ip, i) => {
      const fam = families[i];
      if (fam === "IPv4" && ipFamilyOf(ip) === 6)
        errs.push(
          fieldInvalid(idx(ipsField, i), ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``),
        );
      if (fam === "IPv6" && ipFamilyOf(ip) !== 6)
        errs.push(
          fieldInvalid(idx(ipsField, i), ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``),
        );
    });
  }
}

function validateService(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  const type = spec.type;
  const ports = objects(spec.ports);
  const headless = isHeadless(spec);
  if (ports.length === 0 && !headless && type !== "ExternalName") errs.push(fieldRequired("spec.ports"));
  switch (type) {
    case "LoadBalancer":
    case "NodePort":
      if (headless)
        errs.push(
          fieldInvalid("spec.clusterIPs[0]", "None", `may not be set to 'None' for ${type} services`),
        );
      break;
    case "ExternalName": {
      if (asArr(spec.clusterIPs).length > 0)
        errs.push(fieldForbidden("spec.clusterIPs", "may not be set for ExternalName services"));
      else if (asStr(spec.clusterIP) !== "")
        errs.push(fieldForbidden("spec.clusterIP", "may not be set for ExternalName services"));
      if (asArr(spec.ipFamilies).length > 0)
        errs.push(fieldForbidden("spec.ipFamilies", "may not be set for ExternalName services"));
      if (isSet(spec.ipFamilyPolicy))
        errs.push(fieldForbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"));
      const cname = asStr(spec.externalName).replace(/\.$/, "");
      if (cname) errs.push(...invalidEach("spec.externalName", cname, isDNS1123Subdomain(cname)));
      else errs.push(fieldRequired("spec.externalName"));
      break;
    }
  }
  const names = new Set<string>();
  ports.forEach((p, i) => {
    validateServicePort(errs, p, idx("spec.ports", i), ports.length > 1, names);
  });
  if (isSet(spec.selector)) errs.push(...validateLabels(spec.selector, "spec.selector"));

  oneOf(errs, spec.sessionAffinity, "spec.sessionAffinity", ["ClientIP", "None"]);
  if (spec.sessionAffinity === "ClientIP") {
    const cfgPath = "spec.sessionAffinityConfig";
    if (!isSet(spec.sessionAffinityConfig))
      errs.push(fieldRequired(cfgPath, "when session affinity type is ClientIP"));
    else {
      const clientIP = asObj(spec.sessionAffinityConfig).clientIP;
      if (!isSet(clientIP))
        errs.push(fieldRequired(`${cfgPath}.clientIP`, "when session affinity type is ClientIP"));
      else {
        const t = asObj(clientIP).timeoutSeconds;
        if (!isSet(t))
          errs.push(
            fieldRequired(`${cfgPath}.clientIP.timeoutSeconds`, "when session affinity type is ClientIP"),
          );
        else if (!isInt(t) || t <= 0 || t > 86400) {
          errs.push(
            fieldInvalid(
              `${cfgPath}.clientIP.timeoutSeconds`,
              t,
              "must be greater than 0 and less than 86400",
            ),
          );
        }
      }
    }
  } else if (spec.sessionAffinity === "None" && isSet(spec.sessionAffinityConfig)) {
    errs.push(fieldForbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"));
  }

  if (type !== "ExternalName") validateClusterIPFields(errs, spec);
  asArr(spec.externalIPs).forEach((ip, i) => {
    const p = idx("spec.externalIPs", i);
    const msgs = isValidIP(asStr(ip));
    errs.push(...invalidEach(p, ip, msgs.length ? msgs : nonSpecialIPErrors(asStr(ip))));
  });

  oneOf(errs, type, "spec.type", SERVICE_TYPES);
  if (type === "ClusterIP") {
    ports.forEach((p, i) => {
      if (isSet(p.nodePort) && p.nodePort !== 0)
        errs.push(
          fieldForbidden(`${idx("spec.ports", i)}.nodePort`, "may not be used when `type` is 'ClusterIP'"),
        );
    });
  }
  const nodePorts = new Set<string>();
  const portKeys = new Set<string>();
  ports.forEach((p, i) => {
    const path = idx("spec.ports", i);
    if (isSet(p.nodePort) && p.nodePort !== 0) {
      const k = `${asStr(p.protocol)}/${String(p.nodePort)}`;
      if (nodePorts.has(k)) errs.push(fieldDuplicate(`${path}.nodePort`, p.nodePort));
      nodePorts.add(k);
    }
    const k = `${asStr(p.protocol)}/${String(p.port)}`;
    if (portKeys.has(k)) errs.push(fieldDuplicate(path, { port: p.port, protocol: p.protocol }));
    portKeys.add(k);
  });

  const ranges = asArr(spec.loadBalancerSourceRanges);
  if (ranges.length) {
    const p = "spec.LoadBalancerSourceRanges";
    if (type !== "LoadBalancer")
      errs.push(fieldForbidden(p, "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => {
      errs.push(...invalidEach(idx(p, i), r, isValidCIDR(asStr(r).trim())));
    });
  }
  if (isSet(spec.allocateLoadBalancerNodePorts) && type !== "LoadBalancer") {
    errs.push(
      fieldForbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"),
    );
  }
  if (type === "LoadBalancer" && !isSet(spec.allocateLoadBalancerNodePorts))
    errs.push(fieldRequired("spec.allocateLoadBalancerNodePorts"));
  if (isSet(spec.loadBalancerClass)) {
    if (type !== "LoadBalancer")
      errs.push(fieldForbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"));
    else
      errs.push(
        ...invalidEach(
          "spec.loadBalancerClass",
          spec.loadBalancerClass,
          isQualifiedName(asStr(spec.loadBalancerClass)),
        ),
      );
  }

  if (!externallyAccessible(spec)) {
    if (asStr(spec.externalTrafficPolicy) !== "") {
      errs.push(
        fieldInvalid(
          "spec.externalTrafficPolicy",
          spec.externalTrafficPolicy,
          "may only be set for externally-accessible services",
        ),
      );
    }
  } else oneOf(errs, spec.externalTrafficPolicy, "spec.externalTrafficPolicy", TRAFFIC_POLICIES);
  const needsHealthCheck = type === "LoadBalancer" && spec.externalTrafficPolicy === "Local";
  if (isSet(spec.healthCheckNodePort) && spec.healthCheckNodePort !== 0) {
    if (!needsHealthCheck) {
      errs.push(
        fieldInvalid(
          "spec.healthCheckNodePort",
          spec.healthCheckNodePort,
          "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
      );
    } else
      errs.push(
        ...invalidEach(
          "spec.healthCheckNodePort",
          spec.healthCheckNodePort,
          isValidPortNum(spec.healthCheckNodePort),
        ),
      );
  }
  if (!isSet(spec.internalTrafficPolicy)) {
    if (type === "ClusterIP" || type === "NodePort" || type === "LoadBalancer")
      errs.push(fieldRequired("spec.internalTrafficPolicy"));
  } else oneOf(errs, spec.internalTrafficPolicy, "spec.internalTrafficPolicy", TRAFFIC_POLICIES);
  if (isSet(spec.trafficDistribution)) {
    oneOf(errs, spec.trafficDistribution, "spec.trafficDistribution", [
      "PreferClose",
      "PreferSameNode",
      "PreferSameZone",
    ]);
  }
}

function validateServiceUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  const spec = asObj(obj.spec);
  const oldSpec = asObj(old.spec);
  if (
    spec.type !== "ExternalName" &&
    oldSpec.type !== "ExternalName" &&
    !(isHeadless(spec) && isHeadless(oldSpec))
  ) {
    const now = clusterIPsOf(spec);
    const before = clusterIPsOf(oldSpec);
    // an update that leaves clusterIP(s) out keeps the allocated ones (the strategy carries them over)
    if (now.length > 0 && before.length > 0) {
      if (now[0] !== before[0]) errs.push(fieldInvalid("spec.clusterIPs[0]", now, "may not change once set"));
      else if (now.length === before.length && now[1] !== before[1])
        errs.push(fieldInvalid("spec.clusterIPs[1]", now, "may not change once set"));
      else if (now.length < before.length && spec.ipFamilyPolicy !== "SingleStack") {
        errs.push(
          fieldInvalid(
            "spec.ipFamilyPolicy",
            spec.ipFamilyPolicy ?? null,
            "must be set to 'SingleStack' when releasing the secondary clusterIP",
          ),
        );
      }
    }
    const fams = asArr(spec.ipFamilies);
    const oldFams = asArr(oldSpec.ipFamilies);
    if (
      !isHeadless(spec) &&
      !isHeadless(oldSpec) &&
      fams.length > 0 &&
      oldFams.length > 0 &&
      fams[0] !== oldFams[0]
    ) {
      errs.push(fieldInvalid("spec.ipFamilies[0]", fams, "may not change once set"));
    }
  }
  const hc = (s: Obj) => s.type === "LoadBalancer" && s.externalTrafficPolicy === "Local";
  if (
    hc(spec) &&
    hc(oldSpec) &&
    isSet(spec.healthCheckNodePort) &&
    spec.healthCheckNodePort !== oldSpec.healthCheckNodePort
  ) {
    errs.push(fieldForbidden("spec.healthCheckNodePort", FIELD_IMMUTABLE));
  }
  if (
    spec.type === "LoadBalancer" &&
    oldSpec.type === "LoadBalancer" &&
    (spec.loadBalancerClass ?? null) !== (oldSpec.loadBalancerClass ?? null)
  ) {
    errs.push(
      fieldInvalid("spec.loadBalancerClass", spec.loadBalancerClass ?? null, "may not change once set"),
    );
  }
}

function validateEndpointPorts(errs: Errs, portsIn: unknown, path: string): void {
  const ports = objects(portsIn);
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const pp = idx(path, i);
    const name = asStr(p.name);
    if (ports.length > 1 && !name) errs.push(fieldRequired(`${pp}.name`));
    else if (name) {
      errs.push(...invalidEach(`${pp}.name`, name, isDNS1123Label(name)));
      if (names.has(name)) errs.push(fieldDuplicate(`${pp}.name`, name));
      names.add(name);
    }
    errs.push(...invalidEach(`${pp}.port`, p.port ?? 0, isValidPortNum(p.port)));
    oneOf(errs, p.protocol, `${pp}.protocol`, PROTOCOLS);
    if (isSet(p.appProtocol))
      errs.push(...invalidEach(`${pp}.appProtocol`, p.appProtocol, isQualifiedName(asStr(p.appProtocol))));
  });
}

function validateEndpoints(errs: Errs, obj: KubeObject): void {
  objects(obj.subsets).forEach((s, i) => {
    const p = idx("subsets", i);
    const addrs = objects(s.addresses);
    const notReady = objects(s.notReadyAddresses);
    if (addrs.length === 0 && notReady.length === 0)
      errs.push(fieldRequired(p, "must specify `addresses` or `notReadyAddresses`"));
    for (const [list, field] of [
      [addrs, "addresses"],
      [notReady, "notReadyAddresses"],
    ] as const) {
      list.forEach((a, j) => {
        const ap = idx(`${p}.${field}`, j);
        const ip = asStr(a.ip);
        const msgs = isValidIP(ip);
        errs.push(...invalidEach(`${ap}.ip`, ip, msgs.length ? msgs : nonSpecialIPErrors(ip)));
        if (asStr(a.hostname))
          errs.push(...invalidEach(`${ap}.hostname`, a.hostname, isDNS1123Label(asStr(a.hostname))));
        if (asStr(a.nodeName))
          errs.push(...invalidEach(`${ap}.nodeName`, a.nodeName, isDNS1123Subdomain(asStr(a.nodeName))));
      });
    }
    validateEndpointPorts(errs, s.ports, `${p}.ports`);
  });
}

// ---------------------------------------------------------------------------------------
// discovery.k8s.io/v1 EndpointSlice

const ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"];

function validateEndpointSlice(errs: Errs, obj: KubeObject): void {
  const addressType = obj.addressType;
  oneOf(errs, addressType, "addressType", ADDRESS_TYPES);
  const endpoints = objects(obj.endpoints);
  if (endpoints.length > 1000) errs.push(fieldTooMany("endpoints", endpoints.length, 1000));
  endpoints.forEach((e, i) => {
    const p = idx("endpoints", i);
    const addresses = asArr(e.addresses);
    if (addresses.length === 0) errs.push(fieldRequired(`${p}.addresses`, "must contain at least 1 address"));
    else if (addresses.length > 100) errs.push(fieldTooMany(`${p}.addresses`, addresses.length, 100));
    addresses.forEach((a, j) => {
      const ap = idx(`${p}.addresses`, j);
      const s = asStr(a);
      let msgs: string[] = [];
      if (addressType === "IPv4") msgs = isValidIPv4Address(s);
      else if (addressType === "IPv6") msgs = isValidIPv6Address(s);
      else if (addressType === "FQDN") msgs = isDNS1123Subdomain(s.replace(/\.$/, ""));
      if (!msgs.length && (addressType === "IPv4" || addressType === "IPv6")) msgs = nonSpecialIPErrors(s);
      errs.push(...invalidEach(ap, a, msgs));
    });
    if (asStr(e.nodeName))
      errs.push(...invalidEach(`${p}.nodeName`, e.nodeName, isDNS1123Subdomain(asStr(e.nodeName))));
    if (asStr(e.hostname))
      errs.push(...invalidEach(`${p}.hostname`, e.hostname, isDNS1123Label(asStr(e.hostname))));
    errs.push(...validateLabels(e.deprecatedTopology, `${p}.deprecatedTopology`));
  });
  const ports = objects(obj.ports);
  if (ports.length > 20000) errs.push(fieldTooMany("ports", ports.length, 20000));
  const names = new Set<string>();
  ports.forEach((port, i) => {
    const p = idx("ports", i);
    const name = asStr(port.name);
    if (name) errs.push(...invalidEach(`${p}.name`, name, isDNS1123Label(name)));
    if (names.has(name)) errs.push(fieldDuplicate(`${p}.name`, name));
    names.add(name);
    oneOf(errs, port.protocol, `${p}.protocol`, PROTOCOLS);
    if (isSet(port.port)) errs.push(...invalidEach(`${p}.port`, port.port, isValidPortNum(port.port)));
    if (isSet(port.appProtocol))
      errs.push(
        ...invalidEach(`${p}.appProtocol`, port.appProtocol, isQualifiedName(asStr(port.appProtocol))),
      );
  });
}

function validateEndpointSliceUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  immutable(errs, obj.addressType, old.addressType, "addressType");
}

// ---------------------------------------------------------------------------------------
// apps/v1

function validateIntOrPercent(errs: Errs, v: unknown, path: string): void {
  if (typeof v === "string") {
    if (!/^[0-9]+%$/.test(v)) {
      errs.push(
        fieldInvalid(
          path,
          v,
          "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        ),
      );
    } else if (Number.parseInt(v, 10) > 100)
      errs.push(fieldInvalid(path, v, "must not be greater than 100%"));
  } else if (isSet(v)) nonNegative(errs, v, path);
}

/** the numeric part of an int-or-percent (0 for a malformed one) */
function intOrPercentValue(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") return Number.parseInt(v, 10) || 0;
  return 0;
}

function validateSelectorAndTemplate(
  errs: Errs,
  spec: Obj,
  resource: "deployment" | "daemonset",
  requireTemplateMatch = true,
): void {
  if (!isSet(spec.selector)) errs.push(fieldRequired("spec.selector"));
  else {
    validateLabelSelector(errs, spec.selector, "spec.selector");
    if (selectorIsEmpty(asObj(spec.selector)))
      errs.push(fieldInvalid("spec.selector", spec.selector, `empty selector is invalid for ${resource}`));
  }
  const template = asObj(spec.template);
  const labels = asObj(template.metadata).labels;
  if (
    requireTemplateMatch &&
    isSet(spec.template) &&
    isObj(spec.selector) &&
    !selectorIsEmpty(spec.selector) &&
    !selectorMatches(spec.selector, labels)
  ) {
    errs.push(
      fieldInvalid(
        "spec.template.metadata.labels",
        labels ?? {},
        "`selector` does not match template `labels`",
      ),
    );
  }
  validatePodTemplate(errs, spec.template, "spec.template");
  if (isSet(spec.template)) {
    const podSpec = asObj(template.spec);
    if (isSet(podSpec.restartPolicy) && podSpec.restartPolicy !== "Always") {
      errs.push(fieldNotSupported("spec.template.spec.restartPolicy", podSpec.restartPolicy, ["Always"]));
    }
    if (isSet(podSpec.activeDeadlineSeconds)) {
      if (resource === "daemonset") {
        errs.push(
          fieldInvalid(
            "spec.template.spec.activeDeadlineSeconds",
            podSpec.activeDeadlineSeconds,
            "activeDeadlineSeconds in DaemonSet is not Supported",
          ),
        );
      } else
        errs.push(
          fieldForbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
          ),
        );
    }
  }
}

function validateReplicaSet(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  nonNegative(errs, spec.replicas, "spec.replicas");
  nonNegative(errs, spec.minReadySeconds, "spec.minReadySeconds");
  validateSelectorAndTemplate(errs, spec, "deployment");
}

function validateDeployment(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  nonNegative(errs, spec.replicas, "spec.replicas");
  validateSelectorAndTemplate(errs, spec, "deployment");
  const strategy = asObj(spec.strategy);
  switch (strategy.type) {
    case "Recreate":
      if (isSet(strategy.rollingUpdate))
        errs.push(
          fieldForbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
          ),
        );
      break;
    case "RollingUpdate": {
      if (!isSet(strategy.rollingUpdate)) {
        errs.push(fieldRequired("spec.strategy.rollingUpdate", "this should be defaulted and never be nil"));
        break;
      }
      const ru = asObj(strategy.rollingUpdate);
      const p = "spec.strategy.rollingUpdate";
      validateIntOrPercent(errs, ru.maxUnavailable, `${p}.maxUnavailable`);
      validateIntOrPercent(errs, ru.maxSurge, `${p}.maxSurge`);
      if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
        errs.push(
          fieldInvalid(`${p}.maxUnavailable`, ru.maxUnavailable ?? 0, "may not be 0 when `maxSurge` is 0"),
        );
      }
      break;
    }
    default:
      errs.push(fieldNotSupported("spec.strategy.type", strategy.type ?? "", ["Recreate", "RollingUpdate"]));
  }
  nonNegative(errs, spec.minReadySeconds, "spec.minReadySeconds");
  nonNegative(errs, spec.revisionHistoryLimit, "spec.revisionHistoryLimit");
  if (isSet(spec.progressDeadlineSeconds)) {
    nonNegative(errs, spec.progressDeadlineSeconds, "spec.progressDeadlineSeconds");
    const minReady = isInt(spec.minReadySeconds) ? spec.minReadySeconds : 0;
    if (isInt(spec.progressDeadlineSeconds) && spec.progressDeadlineSeconds <= minReady) {
      errs.push(
        fieldInvalid(
          "spec.progressDeadlineSeconds",
          spec.progressDeadlineSeconds,
          "must be greater than minReadySeconds",
        ),
      );
    }
  }
}

function validateDaemonSet(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  validateSelectorAndTemplate(errs, spec, "daemonset");
  nonNegative(errs, spec.minReadySeconds, "spec.minReadySeconds");
  nonNegative(errs, spec.revisionHistoryLimit, "spec.revisionHistoryLimit");
  const strategy = asObj(spec.updateStrategy);
  const p = "spec.updateStrategy";
  switch (strategy.type) {
    case "OnDelete":
      break;
    case "RollingUpdate": {
      if (!isSet(strategy.rollingUpdate)) {
        errs.push(fieldRequired(`${p}.rollingUpdate`));
        break;
      }
      const ru = asObj(strategy.rollingUpdate);
      validateIntOrPercent(errs, ru.maxUnavailable, `${p}.rollingUpdate.maxUnavailable`);
      validateIntOrPercent(errs, ru.maxSurge, `${p}.rollingUpdate.maxSurge`);
      const hasUnavailable = intOrPercentValue(ru.maxUnavailable) !== 0;
      const hasSurge = intOrPercentValue(ru.maxSurge) !== 0;
      if (hasUnavailable && hasSurge) {
        errs.push(
          fieldInvalid(
            `${p}.rollingUpdate.maxSurge`,
            ru.maxSurge,
            "may not be set when maxUnavailable is non-zero",
          ),
        );
      } else if (!hasUnavailable && !hasSurge) {
        errs.push(fieldRequired(`${p}.rollingUpdate.maxUnavailable`, "cannot be 0 when maxSurge is 0"));
      }
      break;
    }
    default:
      errs.push(fieldNotSupported(`${p}.type`, strategy.type ?? "", ["OnDelete", "RollingUpdate"]));
  }
}

function validateSelectorUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  immutable(errs, asObj(obj.spec).selector, asObj(old.spec).selector, "spec.selector");
}

// ---------------------------------------------------------------------------------------
// core/v1 config and identity

const MAX_SECRET_SIZE = 1024 * 1024;

function decodedSize(b64: unknown): number | undefined {
  if (typeof b64 !== "string") return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) return undefined;
  return Buffer.from(b64, "base64").length;
}

function validateConfigMap(errs: Errs, obj: KubeObject): void {
  const data = asObj(obj.data);
  const binary = asObj(obj.binaryData);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    errs.push(...invalidEach(key("data", k), k, isConfigMapKey(k)));
    if (Object.hasOwn(binary, k))
      errs.push(fieldInvalid(key("data", k), k, "duplicate of key present in binaryData"));
    if (typeof v !== "string") errs.push(fieldInvalid(key("data", k), v, "must be a string"));
    else total += Buffer.byteLength(v);
  }
  for (const [k, v] of Object.entries(binary)) {
    errs.push(...invalidEach(key("binaryData", k), k, isConfigMapKey(k)));
    if (Object.hasOwn(data, k))
      errs.push(fieldInvalid(key("binaryData", k), k, "duplicate of key present in data"));
    const n = decodedSize(v);
    if (n === undefined) errs.push(fieldInvalid(key("binaryData", k), "<binary>", "must be base64 encoded"));
    else total += n;
  }
  if (total > MAX_SECRET_SIZE) errs.push(fieldTooLong("", MAX_SECRET_SIZE));
}

function validateImmutableData(
  errs: Errs,
  obj: KubeObject,
  old: KubeObject,
  fields: readonly string[],
): void {
  if (old.immutable !== true) return;
  const msg = "field is immutable when `immutable` is set";
  if (obj.immutable !== true) errs.push(fieldForbidden("immutable", msg));
  for (const f of fields) if (!jsonEqual(obj[f] ?? {}, old[f] ?? {})) errs.push(fieldForbidden(f, msg));
}

function validateSecret(errs: Errs, obj: KubeObject): void {
  const data = asObj(obj.data);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    errs.push(...invalidEach(key("data", k), k, isConfigMapKey(k)));
    const n = decodedSize(v);
    if (n === undefined)
      errs.push(fieldInvalid(key("data", k), "<secret contents redacted>", "illegal base64 data"));
    else total += n;
  }
  for (const k of Object.keys(asObj(obj.stringData)))
    errs.push(...invalidEach(key("stringData", k), k, isConfigMapKey(k)));
  if (total > MAX_SECRET_SIZE) errs.push(fieldTooLong("data", MAX_SECRET_SIZE));
  const has = (k: string) => Object.hasOwn(data, k);
  const jsonKey = (k: string) => {
    if (!has(k)) {
      errs.push(fieldRequired(key("data", k)));
      return;
    }
    try {
      JSON.parse(Buffer.from(asStr(data[k]), "base64").toString("utf8"));
    } catch (e) {
      errs.push(fieldInvalid(key("data", k), "<secret contents redacted>", (e as Error).message));
    }
  };
  switch (obj.type) {
    case "kubernetes.io/service-account-token": {
      const sa = asObj(obj.metadata.annotations)["kubernetes.io/service-account.name"];
      if (!sa) errs.push(fieldRequired("metadata.annotations[kubernetes.io/service-account.name]"));
      break;
    }
    case "kubernetes.io/dockercfg":
      jsonKey(".dockercfg");
      break;
    case "kubernetes.io/dockerconfigjson":
      jsonKey(".dockerconfigjson");
      break;
    case "kubernetes.io/basic-auth":
      if (!has("username") && !has("password")) {
        errs.push(fieldRequired(key("data", "username")));
        errs.push(fieldRequired(key("data", "password")));
      }
      break;
    case "kubernetes.io/ssh-auth":
      if (!has("ssh-privatekey")) errs.push(fieldRequired(key("data", "ssh-privatekey")));
      break;
    case "kubernetes.io/tls":
      if (!has("tls.key")) errs.push(fieldRequired(key("data", "tls.key")));
      if (!has("tls.crt")) errs.push(fieldRequired(key("data", "tls.crt")));
      break;
  }
}

function validateSecretUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  immutable(errs, obj.type ?? "", old.type ?? "", "type");
  validateImmutableData(errs, obj, old, ["data"]);
}

function validateServiceAccount(errs: Errs, obj: KubeObject): void {
  objects(obj.secrets).forEach((s, i) => {
    const n = asStr(s.name);
    if (n) errs.push(...invalidEach(`${idx("secrets", i)}.name`, n, isDNS1123Subdomain(n)));
  });
  objects(obj.imagePullSecrets).forEach((s, i) => {
    const n = asStr(s.name);
    if (n) errs.push(...invalidEach(`${idx("imagePullSecrets", i)}.name`, n, isDNS1123Subdomain(n)));
  });
}

// ---------------------------------------------------------------------------------------
// core/v1 cluster objects

const STANDARD_FINALIZERS = ["kubernetes", "orphan", "foregroundDeletion"];

function validateNamespace(errs: Errs, obj: KubeObject): void {
  for (const f of asArr(asObj(obj.spec).finalizers)) {
    const s = asStr(f);
    errs.push(...invalidEach("spec.finalizers", s, isQualifiedName(s)));
    if (!s.includes("/") && !STANDARD_FINALIZERS.includes(s)) {
      errs.push(
        fieldInvalid(
          "spec.finalizers",
          s,
          "name is neither a standard finalizer name nor is it fully qualified",
        ),
      );
    }
  }
}

function validateNode(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  const cidrs = asArr(spec.podCIDRs).map(asStr);
  if (asStr(spec.podCIDR))
    errs.push(...invalidEach("spec.podCIDR", spec.podCIDR, isValidCIDR(asStr(spec.podCIDR))));
  cidrs.forEach((c, i) => {
    errs.push(...invalidEach(idx("spec.podCIDRs", i), c, isValidCIDR(c)));
  });
  if (cidrs.length > 2)
    errs.push(fieldInvalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"));
  if (cidrs.length === 2 && cidrs.every((c) => !isValidCIDR(c).length)) {
    if (ipFamilyOf(cidrs[0]!.split("/")[0]!) === ipFamilyOf(cidrs[1]!.split("/")[0]!)) {
      errs.push(fieldInvalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"));
    }
  }
  if (asStr(spec.podCIDR) && cidrs.length && cidrs[0] !== spec.podCIDR) {
    errs.push(fieldInvalid("spec.podCIDRs", cidrs, "first value must match `podCIDR`"));
  }
  const seen = new Set<string>();
  objects(spec.taints).forEach((t, i) => {
    const p = idx("spec.taints", i);
    const k = asStr(t.key);
    if (!k) errs.push(fieldRequired(`${p}.key`));
    else errs.push(...invalidEach(`${p}.key`, k, isQualifiedName(k)));
    if (isSet(t.value)) errs.push(...invalidEach(`${p}.value`, t.value, isValidLabelValue(asStr(t.value))));
    oneOf(errs, t.effect, `${p}.effect`, TAINT_EFFECTS);
    const id = `${k}:${asStr(t.effect)}`;
    if (seen.has(id)) errs.push(fieldDuplicate(p, `${k}=${asStr(t.value)}:${asStr(t.effect)}`));
    seen.add(id);
  });
}

function validateNodeUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  const spec = asObj(obj.spec);
  const oldSpec = asObj(old.spec);
  const oldCidrs = asArr(oldSpec.podCIDRs);
  if (oldCidrs.length > 0 && !jsonEqual(asArr(spec.podCIDRs), oldCidrs)) {
    errs.push(fieldForbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'));
  }
  if (asStr(oldSpec.providerID) && spec.providerID !== oldSpec.providerID) {
    errs.push(
      fieldForbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'),
    );
  }
}

// ---------------------------------------------------------------------------------------
// events

function validateEventSeries(errs: Errs, series: unknown, path: string): void {
  if (!isSet(series)) return;
  const s = asObj(series);
  if (!isInt(s.count) || s.count < 2) errs.push(fieldInvalid(`${path}.count`, "", "should be at least 2"));
  if (!isSet(s.lastObservedTime)) errs.push(fieldRequired(`${path}.lastObservedTime`));
}

function lengthLimit(errs: Errs, v: unknown, path: string, max: number): void {
  if (typeof v === "string" && v.length > max)
    errs.push(fieldInvalid(path, "", `can have at most ${max} characters`));
}

interface EventFields {
  regarding: Obj;
  regardingPath: string;
  controllerPath: string;
  notePath: string;
  controller: unknown;
  note: unknown;
}

/** the rules every Event meets (legacyValidateEvent) */
function validateEventCommon(errs: Errs, obj: KubeObject, f: EventFields): void {
  const ns = asStr(obj.metadata.namespace);
  const regardingNs = asStr(f.regarding.namespace);
  const nsPath = `${f.regardingPath}.namespace`;
  if (!isSet(obj.eventTime)) {
    if (!regardingNs) {
      if (ns !== "" && ns !== "default")
        errs.push(fieldInvalid(nsPath, regardingNs, "does not match event.namespace"));
    } else if (ns !== regardingNs)
      errs.push(fieldInvalid(nsPath, regardingNs, "does not match event.namespace"));
    return;
  }
  if (!regardingNs && ns !== "default" && ns !== "kube-system")
    errs.push(fieldInvalid(nsPath, regardingNs, "does not match event.namespace"));
  if (!f.controller) errs.push(fieldRequired(f.controllerPath));
  else errs.push(...invalidEach(f.controllerPath, f.controller, isQualifiedName(asStr(f.controller))));
  if (!obj.reportingInstance) errs.push(fieldRequired("reportingInstance"));
  lengthLimit(errs, obj.reportingInstance, "reportingInstance", 128);
  if (!obj.action) errs.push(fieldRequired("action"));
  lengthLimit(errs, obj.action, "action", 128);
  if (!obj.reason) errs.push(fieldRequired("reason"));
  lengthLimit(errs, obj.reason, "reason", 128);
  lengthLimit(errs, f.note, f.notePath, 1024);
}

function validateCoreEvent(errs: Errs, obj: KubeObject): void {
  validateEventCommon(errs, obj, {
    regarding: asObj(obj.involvedObject),
    regardingPath: "involvedObject",
    controllerPath: "reportingComponent",
    notePath: "message",
    controller: obj.reportingComponent,
    note: obj.message,
  });
}

function validateEventsV1Event(errs: Errs, obj: KubeObject): void {
  validateEventCommon(errs, obj, {
    regarding: asObj(obj.regarding),
    regardingPath: "regarding",
    controllerPath: "reportingController",
    notePath: "note",
    controller: obj.reportingController,
    note: obj.note,
  });
  validateEventSeries(errs, obj.series, "series");
  if (!isSet(obj.eventTime)) errs.push(fieldRequired("eventTime"));
  if (obj.type !== "Normal" && obj.type !== "Warning")
    errs.push(fieldInvalid("type", "", `has invalid value: ${asStr(obj.type)}`));
  for (const f of ["deprecatedFirstTimestamp", "deprecatedLastTimestamp"])
    if (isSet(obj[f])) errs.push(fieldInvalid(f, "", "needs to be unset"));
  if (isSet(obj.deprecatedCount) && obj.deprecatedCount !== 0)
    errs.push(fieldInvalid("deprecatedCount", "", "needs to be unset"));
  const src = asObj(obj.deprecatedSource);
  if (asStr(src.component) || asStr(src.host))
    errs.push(fieldInvalid("deprecatedSource", "", "needs to be unset"));
}

function validateEventsV1EventUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  for (const f of [
    "eventTime",
    "action",
    "reason",
    "reportingController",
    "reportingInstance",
    "type",
    "regarding",
    "related",
    "note",
  ]) {
    if (!jsonEqual(obj[f] ?? null, old[f] ?? null))
      errs.push(fieldInvalid(f, obj[f] ?? null, FIELD_IMMUTABLE));
  }
}

// ---------------------------------------------------------------------------------------
// coordination.k8s.io/v1 Lease

function validateLease(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  if (
    isSet(spec.leaseDurationSeconds) &&
    (!isInt(spec.leaseDurationSeconds) || spec.leaseDurationSeconds <= 0)
  ) {
    errs.push(fieldInvalid("spec.leaseDurationSeconds", spec.leaseDurationSeconds, "must be greater than 0"));
  }
  nonNegative(errs, spec.leaseTransitions, "spec.leaseTransitions");
  if (isSet(spec.strategy)) oneOf(errs, spec.strategy, "spec.strategy", ["OldestEmulationVersion"]);
  if (asStr(spec.preferredHolder) && !asStr(spec.strategy)) {
    errs.push(fieldForbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"));
  }
}

// ---------------------------------------------------------------------------------------
// networking.k8s.io/v1

const PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"];
const INVALID_PATH_SEQUENCES = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES = ["/..", "/."];

function validateTypedLocalObjectReference(errs: Errs, refIn: unknown, path: string): void {
  const ref = asObj(refIn);
  if (asStr(ref.apiGroup))
    errs.push(...invalidEach(`${path}.apiGroup`, ref.apiGroup, isDNS1123Subdomain(asStr(ref.apiGroup))));
  if (!asStr(ref.kind)) errs.push(fieldRequired(`${path}.kind`));
  else errs.push(...invalidEach(`${path}.kind`, ref.kind, isValidPathSegmentName(asStr(ref.kind))));
  if (!asStr(ref.name)) errs.push(fieldRequired(`${path}.name`));
  else errs.push(...invalidEach(`${path}.name`, ref.name, isValidPathSegmentName(asStr(ref.name))));
}

function validateIngressBackend(errs: Errs, backendIn: unknown, path: string): void {
  const b = asObj(backendIn);
  const hasResource = isSet(b.resource);
  const hasService = isSet(b.service);
  if (hasResource && hasService) {
    errs.push(fieldInvalid(path, "", "cannot set both resource and service backends"));
    return;
  }
  if (hasResource) {
    validateTypedLocalObjectReference(errs, b.resource, `${path}.resource`);
    return;
  }
  if (!hasService) {
    errs.push(fieldInvalid(path, "", "resource or service backend is required"));
    return;
  }
  const svc = asObj(b.service);
  const sp = `${path}.service`;
  const name = asStr(svc.name);
  if (!name) errs.push(fieldRequired(`${sp}.name`));
  else errs.push(...invalidEach(`${sp}.name`, name, isDNS1035Label(name)));
  const port = asObj(svc.port);
  const hasName = asStr(port.name) !== "";
  const hasNumber = isSet(port.number) && port.number !== 0;
  if (hasName && hasNumber)
    errs.push(fieldInvalid(`${sp}.port`, port, "cannot set both port name & port number"));
  else if (hasName)
    errs.push(...invalidEach(`${sp}.port.name`, port.name, isValidPortName(asStr(port.name))));
  else if (hasNumber)
    errs.push(...invalidEach(`${sp}.port.number`, port.number, isValidPortNum(port.number)));
  else errs.push(fieldRequired(`${sp}.port`, "port name or number is required"));
}

function validateIngressPath(errs: Errs, pIn: Obj, path: string): void {
  const pathType = pIn.pathType;
  const value = asStr(pIn.path);
  if (!isSet(pathType) || pathType === "")
    errs.push(fieldRequired(`${path}.pathType`, "pathType must be specified"));
  else if (!PATH_TYPES.includes(asStr(pathType)))
    errs.push(fieldNotSupported(`${path}.pathType`, pathType, PATH_TYPES));
  if (pathType === "Exact" || pathType === "Prefix") {
    if (!value.startsWith("/")) errs.push(fieldInvalid(`${path}.path`, value, "must be an absolute path"));
    for (const seq of INVALID_PATH_SEQUENCES)
      if (value.includes(seq)) errs.push(fieldInvalid(`${path}.path`, value, `must not contain '${seq}'`));
    for (const suf of INVALID_PATH_SUFFIXES)
      if (value.endsWith(suf)) errs.push(fieldInvalid(`${path}.path`, value, `cannot end with '${suf}'`));
  } else if (pathType === "ImplementationSpecific" && value !== "" && !value.startsWith("/")) {
    errs.push(fieldInvalid(`${path}.path`, value, "must be an absolute path"));
  }
  validateIngressBackend(errs, pIn.backend, `${path}.backend`);
}

function validateIngressHost(errs: Errs, host: string, path: string): void {
  if (ipFamilyOf(host)) {
    errs.push(fieldInvalid(path, host, "must be a DNS name, not an IP address"));
    return;
  }
  errs.push(
    ...invalidEach(
      path,
      host,
      host.includes("*") ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host),
    ),
  );
}

function validateIngress(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  const rules = objects(spec.rules);
  if (isSet(spec.defaultBackend)) validateIngressBackend(errs, spec.defaultBackend, "spec.defaultBackend");
  else if (rules.length === 0)
    errs.push(fieldInvalid("spec.rules", [], "either `defaultBackend` or `rules` must be specified"));
  rules.forEach((r, i) => {
    const p = idx("spec.rules", i);
    const host = asStr(r.host);
    if (host) validateIngressHost(errs, host, `${p}.host`);
    if (isSet(r.http)) {
      const paths = objects(asObj(r.http).paths);
      if (paths.length === 0) errs.push(fieldRequired(`${p}.http.paths`));
      paths.forEach((hp, j) => {
        validateIngressPath(errs, hp, idx(`${p}.http.paths`, j));
      });
    }
  });
  objects(spec.tls).forEach((t, i) => {
    const p = idx("spec.tls", i);
    asArr(t.hosts).forEach((h, j) => {
      const host = asStr(h);
      errs.push(
        ...invalidEach(
          idx(`${p}.hosts`, j),
          host,
          host.includes("*") ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host),
        ),
      );
    });
    if (asStr(t.secretName))
      errs.push(...invalidEach(`${p}.secretName`, t.secretName, isDNS1123Subdomain(asStr(t.secretName))));
  });
  if (isSet(spec.ingressClassName)) {
    errs.push(
      ...invalidEach(
        "spec.ingressClassName",
        spec.ingressClassName,
        isDNS1123Subdomain(asStr(spec.ingressClassName)),
      ),
    );
  }
}

function validateIngressClass(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  const controller = asStr(spec.controller);
  if (!controller) errs.push(fieldRequired("spec.controller"));
  else {
    if (controller.length > 250) errs.push(fieldTooLong("spec.controller", 250));
    errs.push(...invalidEach("spec.controller", controller, isDomainPrefixedPath(controller)));
  }
  if (isSet(spec.parameters)) {
    const params = asObj(spec.parameters);
    const p = "spec.parameters";
    if (asStr(params.apiGroup))
      errs.push(...invalidEach(`${p}.apiGroup`, params.apiGroup, isDNS1123Subdomain(asStr(params.apiGroup))));
    if (!asStr(params.kind)) errs.push(fieldRequired(`${p}.kind`));
    if (!asStr(params.name)) errs.push(fieldRequired(`${p}.name`));
    const scope = asStr(params.scope);
    if (!scope) errs.push(fieldRequired(`${p}.scope`));
    else if (scope !== "Cluster" && scope !== "Namespace")
      errs.push(fieldNotSupported(`${p}.scope`, scope, ["Cluster", "Namespace"]));
    if (scope === "Namespace") {
      if (!asStr(params.namespace))
        errs.push(fieldRequired(`${p}.namespace`, "`parameters.scope` is set to 'Namespace'"));
      else
        errs.push(
          ...invalidEach(`${p}.namespace`, params.namespace, isDNS1123Label(asStr(params.namespace))),
        );
    }
    if (scope === "Cluster" && asStr(params.namespace))
      errs.push(fieldForbidden(`${p}.namespace`, "`parameters.scope` is set to 'Cluster'"));
  }
}

function validateIngressClassUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  immutable(errs, asObj(obj.spec).controller, asObj(old.spec).controller, "spec.controller");
}

// ---------------------------------------------------------------------------------------
// autoscaling/v2 HorizontalPodAutoscaler

const METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"];

function validateCrossVersionObjectReference(errs: Errs, refIn: unknown, path: string): void {
  const ref = asObj(refIn);
  for (const f of ["kind", "name"]) {
    const v = asStr(ref[f]);
    if (!v) errs.push(fieldRequired(`${path}.${f}`));
    else errs.push(...invalidEach(`${path}.${f}`, v, isValidPathSegmentName(v)));
  }
}

function positiveQuantity(v: unknown): boolean {
  const n = tryParseQuantity(v);
  return n !== undefined && n > 0;
}

function validateMetricTarget(errs: Errs, t: Obj, path: string): void {
  if (!t.type) errs.push(fieldRequired(`${path}.type`, "must specify a metric target type"));
  if (t.type !== "Utilization" && t.type !== "Value" && t.type !== "AverageValue") {
    errs.push(
      fieldInvalid(`${path}.type`, t.type ?? "", "must be either Utilization, Value, or AverageValue"),
    );
  }
  if (isSet(t.value) && !positiveQuantity(t.value))
    errs.push(fieldInvalid(`${path}.value`, t.value, "must be positive"));
  if (isSet(t.averageValue) && !positiveQuantity(t.averageValue))
    errs.push(fieldInvalid(`${path}.averageValue`, t.averageValue, "must be positive"));
  if (isSet(t.averageUtilization) && (!isInt(t.averageUtilization) || t.averageUtilization < 1)) {
    errs.push(fieldInvalid(`${path}.averageUtilization`, t.averageUtilization, "must be greater than 0"));
  }
}

function validateMetricIdentifier(errs: Errs, id: Obj, path: string): void {
  const name = asStr(id.name);
  if (!name) errs.push(fieldRequired(`${path}.name`, "must specify a metric name"));
  else errs.push(...invalidEach(`${path}.name`, name, isValidPathSegmentName(name)));
  if (isSet(id.selector)) validateLabelSelector(errs, id.selector, `${path}.selector`);
}

function validateMetricSource(errs: Errs, kind: string, src: Obj, path: string): void {
  const target = asObj(src.target);
  const tp = `${path}.target`;
  switch (kind) {
    case "object":
      validateCrossVersionObjectReference(errs, src.describedObject, `${path}.describedObject`);
      validateMetricIdentifier(errs, asObj(src.metric), `${path}.metric`);
      validateMetricTarget(errs, target, tp);
      if (!isSet(target.value) && !isSet(target.averageValue)) {
        errs.push(fieldRequired(`${tp}.averageValue`, "must set either a target value or averageValue"));
      }
      break;
    case "external":
      validateMetricIdentifier(errs, asObj(src.metric), `${path}.metric`);
      validateMetricTarget(errs, target, tp);
      if (!isSet(target.value) && !isSet(target.averageValue)) {
        errs.push(
          fieldRequired(
            `${tp}.averageValue`,
            "must set either a target value for metric or a per-pod target",
          ),
        );
      }
      if (isSet(target.value) && isSet(target.averageValue)) {
        errs.push(
          fieldForbidden(`${tp}.value`, "may not set both a target value for metric and a per-pod target"),
        );
      }
      break;
    case "pods":
      validateMetricIdentifier(errs, asObj(src.metric), `${path}.metric`);
      validateMetricTarget(errs, target, tp);
      if (!isSet(target.averageValue))
        errs.push(fieldRequired(`${tp}.averageValue`, "must specify a positive target averageValue"));
      break;
    case "resource":
    case "containerResource":
      if (!asStr(src.name)) errs.push(fieldRequired(`${path}.name`, "must specify a resource name"));
      if (kind === "containerResource") {
        const c = asStr(src.container);
        if (!c) errs.push(fieldRequired(`${path}.container`, "must specify a container"));
        else errs.push(...invalidEach(`${path}.container`, c, isDNS1123Label(c)));
      }
      validateMetricTarget(errs, target, tp);
      if (!isSet(target.averageUtilization) && !isSet(target.averageValue)) {
        errs.push(
          fieldRequired(
            `${tp}.averageUtilization`,
            "must set either a target raw value or a target utilization",
          ),
        );
      }
      if (isSet(target.averageUtilization) && isSet(target.averageValue)) {
        errs.push(
          fieldForbidden(
            `${tp}.averageValue`,
            "may not set both a target raw value and a target utilization",
          ),
        );
      }
      break;
  }
}

function validateMetricSpec(errs: Errs, m: Obj, path: string): void {
  const type = asStr(m.type);
  if (!type) errs.push(fieldRequired(`${path}.type`, "must specify a metric source type"));
  if (!METRIC_TYPES.includes(type)) errs.push(fieldNotSupported(`${path}.type`, type, METRIC_TYPES));
  const present = ["object", "external", "pods", "resource", "containerResource"].filter((k) => isSet(m[k]));
  if (present.length) validateMetricSource(errs, present[0]!, asObj(m[present[0]!]), `${path}.${present[0]}`);
  const expected = type ? type[0]!.toLowerCase() + type.slice(1) : "";
  if (METRIC_TYPES.includes(type) && !isSet(m[expected])) {
    errs.push(fieldRequired(`${path}.${expected}`, "must populate information for the given metric source"));
  }
  if (present.length > 1) {
    for (const k of present)
      if (k !== expected)
        errs.push(fieldForbidden(`${path}.${k}`, "must populate the given metric source only"));
  }
}

function validateScalingRules(errs: Errs, rulesIn: unknown, path: string): void {
  if (!isSet(rulesIn)) return;
  const rules = asObj(rulesIn);
  const sw = rules.stabilizationWindowSeconds;
  if (isSet(sw)) {
    if (!isInt(sw) || sw < 0)
      errs.push(
        fieldInvalid(`${path}.stabilizationWindowSeconds`, sw, "must be greater than or equal to zero"),
      );
    else if (sw > 3600)
      errs.push(fieldInvalid(`${path}.stabilizationWindowSeconds`, sw, "must be less than or equal to 3600"));
  }
  if (isSet(rules.selectPolicy))
    oneOf(errs, rules.selectPolicy, `${path}.selectPolicy`, ["Disabled", "Max", "Min"]);
  const policies = objects(rules.policies);
  if (policies.length === 0) errs.push(fieldRequired(`${path}.policies`, "must specify at least one Policy"));
  policies.forEach((p, i) => {
    const pp = idx(`${path}.policies`, i);
    if (p.type !== "Pods" && p.type !== "Percent")
      errs.push(fieldNotSupported(`${pp}.type`, p.type ?? "", ["Percent", "Pods"]));
    if (!isInt(p.value) || p.value <= 0)
      errs.push(fieldInvalid(`${pp}.value`, p.value ?? 0, "must be greater than zero"));
    if (!isInt(p.periodSeconds) || p.periodSeconds <= 0)
      errs.push(fieldInvalid(`${pp}.periodSeconds`, p.periodSeconds ?? 0, "must be greater than zero"));
    else if (p.periodSeconds > 1800)
      errs.push(fieldInvalid(`${pp}.periodSeconds`, p.periodSeconds, "must be less than or equal to 1800"));
  });
}

function validateHPASpec(errs: Errs, obj: KubeObject, minReplicasLowerBound: number): void {
  const spec = asObj(obj.spec);
  const min = spec.minReplicas;
  const max = spec.maxReplicas;
  if (isSet(min) && (!isInt(min) || min < minReplicasLowerBound)) {
    errs.push(
      fieldInvalid("spec.minReplicas", min, `must be greater than or equal to ${minReplicasLowerBound}`),
    );
  }
  if (!isInt(max) || max < 1) errs.push(fieldInvalid("spec.maxReplicas", max ?? 0, "must be greater than 0"));
  if (isInt(min) && isInt(max) && max < min)
    errs.push(fieldInvalid("spec.maxReplicas", max, "must be greater than or equal to `minReplicas`"));
  validateCrossVersionObjectReference(errs, spec.scaleTargetRef, "spec.scaleTargetRef");
  const metrics = objects(spec.metrics);
  metrics.forEach((m, i) => {
    validateMetricSpec(errs, m, idx("spec.metrics", i));
  });
  if (min === 0 && !metrics.some((m) => m.type === "Object" || m.type === "External")) {
    errs.push(
      fieldForbidden(
        "spec.metrics",
        "must specify at least one Object or External metric to support scaling to zero replicas",
      ),
    );
  }
  if (isSet(spec.behavior)) {
    const b = asObj(spec.behavior);
    validateScalingRules(errs, b.scaleUp, "spec.behavior.scaleUp");
    validateScalingRules(errs, b.scaleDown, "spec.behavior.scaleDown");
  }
}

function asV2(apiVersion: string, obj: KubeObject): KubeObject {
  return apiVersion === "autoscaling/v1" ? hpaV1ToV2(obj) : obj;
}

// ---------------------------------------------------------------------------------------
// rbac.authorization.k8s.io/v1

const RBAC_GROUP = "rbac.authorization.k8s.io";

function validatePolicyRules(errs: Errs, rulesIn: unknown, namespaced: boolean): void {
  objects(rulesIn).forEach((r, i) => {
    const p = idx("rules", i);
    if (asArr(r.verbs).length === 0)
      errs.push(fieldRequired(`${p}.verbs`, "verbs must contain at least one value"));
    const nonResource = asArr(r.nonResourceURLs);
    if (nonResource.length > 0) {
      if (namespaced)
        errs.push(
          fieldInvalid(
            `${p}.nonResourceURLs`,
            nonResource,
            "namespaced rules cannot apply to non-resource URLs",
          ),
        );
      if (asArr(r.apiGroups).length || asArr(r.resources).length || asArr(r.resourceNames).length) {
        errs.push(
          fieldInvalid(
            `${p}.nonResourceURLs`,
            nonResource,
            "rules cannot apply to both regular resources and non-resource URLs",
          ),
        );
      }
      return;
    }
    if (asArr(r.apiGroups).length === 0)
      errs.push(fieldRequired(`${p}.apiGroups`, "resource rules must supply at least one api group"));
    if (asArr(r.resources).length === 0)
      errs.push(fieldRequired(`${p}.resources`, "resource rules must supply at least one resource"));
  });
}

function validateRole(errs: Errs, obj: KubeObject): void {
  validatePolicyRules(errs, obj.rules, true);
}

function validateClusterRole(errs: Errs, obj: KubeObject): void {
  validatePolicyRules(errs, obj.rules, false);
  if (isSet(obj.aggregationRule)) {
    const selectors = objects(asObj(obj.aggregationRule).clusterRoleSelectors);
    if (selectors.length === 0)
      errs.push(
        fieldRequired(
          "aggregationRule.clusterRoleSelectors",
          "at least one clusterRoleSelector required if aggregationRule is non-nil",
        ),
      );
    selectors.forEach((s, i) => {
      validateLabelSelector(errs, s, idx("aggregationRule.clusterRoleSelectors", i));
    });
  }
}

function validateBinding(errs: Errs, obj: KubeObject, namespaced: boolean): void {
  const ref = asObj(obj.roleRef);
  if (ref.apiGroup !== RBAC_GROUP)
    errs.push(fieldNotSupported("roleRef.apiGroup", ref.apiGroup ?? "", [RBAC_GROUP]));
  const kinds = namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"];
  if (!kinds.includes(asStr(ref.kind))) errs.push(fieldNotSupported("roleRef.kind", ref.kind ?? "", kinds));
  const name = asStr(ref.name);
  if (!name) errs.push(fieldRequired("roleRef.name"));
  else errs.push(...invalidEach("roleRef.name", name, isValidPathSegmentName(name)));
  objects(obj.subjects).forEach((s, i) => {
    const p = idx("subjects", i);
    const sname = asStr(s.name);
    if (!sname) errs.push(fieldRequired(`${p}.name`));
    switch (s.kind) {
      case "ServiceAccount":
        if (sname) errs.push(...invalidEach(`${p}.name`, sname, isDNS1123Subdomain(sname)));
        if (asStr(s.apiGroup)) errs.push(fieldNotSupported(`${p}.apiGroup`, s.apiGroup, [""]));
        if (!namespaced && !asStr(s.namespace)) errs.push(fieldRequired(`${p}.namespace`));
        break;
      case "User":
      case "Group":
        if (s.apiGroup !== RBAC_GROUP)
          errs.push(fieldNotSupported(`${p}.apiGroup`, s.apiGroup ?? "", [RBAC_GROUP]));
        break;
      default:
        errs.push(fieldNotSupported(`${p}.kind`, s.kind ?? "", ["ServiceAccount", "User", "Group"]));
    }
  });
}

function validateBindingUpdate(errs: Errs, obj: KubeObject, old: KubeObject): void {
  if (!jsonEqual(obj.roleRef, old.roleRef))
    errs.push(fieldInvalid("roleRef", obj.roleRef, "cannot change roleRef"));
}

// ---------------------------------------------------------------------------------------
// apiregistration.k8s.io/v1 APIService

function apiServiceName(obj: KubeObject): NameValidator {
  const spec = asObj(obj.spec);
  const required = `${asStr(spec.version)}.${asStr(spec.group)}`;
  return (name, prefix) => {
    const minimal = isValidPathSegmentName(name, prefix);
    if (minimal.length) return minimal;
    return name === required ? [] : [`must be \`spec.version+"."+spec.group\`: ${JSON.stringify(required)}`];
  };
}

function validateAPIService(errs: Errs, obj: KubeObject): void {
  const spec = asObj(obj.spec);
  const group = asStr(spec.group);
  const version = asStr(spec.version);
  if (!group && version !== "v1")
    errs.push(fieldRequired("spec.group", "only v1 may have an empty group and it better be legacy kube"));
  if (group) errs.push(...invalidEach("spec.group", group, isDNS1123Subdomain(group)));
  errs.push(...invalidEach("spec.version", version, isDNS1035Label(version)));
  const gpm = spec.groupPriorityMinimum;
  if (!isInt(gpm) || gpm <= 0 || gpm > 20000)
    errs.push(fieldInvalid("spec.groupPriorityMinimum", gpm ?? 0, "must be positive and less than 20000"));
  const vp = spec.versionPriority;
  if (!isInt(vp) || vp <= 0 || vp > 1000)
    errs.push(fieldInvalid("spec.versionPriority", vp ?? 0, "must be positive and less than 1000"));
  const caBundle = asStr(spec.caBundle);
  if (!isSet(spec.service)) {
    if (caBundle)
      errs.push(
        fieldInvalid(
          "spec.caBundle",
          `${Buffer.from(caBundle, "base64").length} bytes`,
          "local APIServices may not have a caBundle",
        ),
      );
    if (spec.insecureSkipTLSVerify === true)
      errs.push(
        fieldInvalid(
          "spec.insecureSkipTLSVerify",
          true,
          "local APIServices may not have insecureSkipTLSVerify",
        ),
      );
    return;
  }
  const svc = asObj(spec.service);
  if (!asStr(svc.namespace)) errs.push(fieldRequired("spec.service.namespace"));
  if (!asStr(svc.name)) errs.push(fieldRequired("spec.service.name"));
  if (isSet(svc.port)) errs.push(...invalidEach("spec.service.port", svc.port, isValidPortNum(svc.port)));
  if (spec.insecureSkipTLSVerify === true && caBundle) {
    errs.push(fieldInvalid("spec.insecureSkipTLSVerify", true, "may not be true if caBundle is present"));
  }
}

// ---------------------------------------------------------------------------------------
// the table

interface KindRules {
  /** how metadata.name is checked (null: only presence) */
  name: NameValidator | null;
  /** a name check that depends on the object (APIService: version.group) */
  nameFor?: (obj: KubeObject) => NameValidator;
  create?: (errs: Errs, obj: KubeObject, apiVersion: string) => void;
  /** create-only checks (not repeated on update) */
  createOnly?: (errs: Errs, obj: KubeObject) => void;
  update?: (errs: Errs, obj: KubeObject, old: KubeObject, apiVersion: string) => void;
}

const KINDS: Record<string, KindRules> = {
  "v1/Pod": {
    name: nameIsDNSSubdomain,
    create: validatePod,
    createOnly: validatePodCreate,
    update: validatePodUpdate,
  },
  "v1/Service": { name: nameIsDNS1035Label, create: validateService, update: validateServiceUpdate },
  "v1/Endpoints": { name: nameIsDNSSubdomain, create: validateEndpoints },
  "v1/Namespace": { name: nameIsDNSLabel, create: validateNamespace },
  "v1/Node": { name: nameIsDNSSubdomain, create: validateNode, update: validateNodeUpdate },
  "v1/ConfigMap": {
    name: nameIsDNSSubdomain,
    create: validateConfigMap,
    update: (errs, obj, old) => validateImmutableData(errs, obj, old, ["data", "binaryData"]),
  },
  "v1/Secret": { name: nameIsDNSSubdomain, create: validateSecret, update: validateSecretUpdate },
  "v1/ServiceAccount": { name: nameIsDNSSubdomain, create: validateServiceAccount },
  "v1/Event": { name: nameIsPathSegment, create: validateCoreEvent },
  "events.k8s.io/v1/Event": {
    name: nameIsDNSSubdomain,
    create: validateEventsV1Event,
    update: validateEventsV1EventUpdate,
  },
  "discovery.k8s.io/v1/EndpointSlice": {
    name: nameIsDNSSubdomain,
    create: validateEndpointSlice,
    update: validateEndpointSliceUpdate,
  },
  "coordination.k8s.io/v1/Lease": { name: nameIsDNSSubdomain, create: validateLease },
  "apps/v1/Deployment": {
    name: nameIsDNSSubdomain,
    create: validateDeployment,
    update: validateSelectorUpdate,
  },
  "apps/v1/ReplicaSet": {
    name: nameIsDNSSubdomain,
    create: validateReplicaSet,
    update: validateSelectorUpdate,
  },
  "apps/v1/DaemonSet": {
    name: nameIsDNSSubdomain,
    create: validateDaemonSet,
    update: validateSelectorUpdate,
  },
  "networking.k8s.io/v1/Ingress": { name: nameIsDNSSubdomain, create: validateIngress },
  "networking.k8s.io/v1/IngressClass": {
    name: nameIsDNSSubdomain,
    create: validateIngressClass,
    update: validateIngressClassUpdate,
  },
  "autoscaling/v2/HorizontalPodAutoscaler": { name: nameIsDNSSubdomain },
  "autoscaling/v1/HorizontalPodAutoscaler": { name: nameIsDNSSubdomain },
  "apiregistration.k8s.io/v1/APIService": { name: null, nameFor: apiServiceName, create: validateAPIService },
  "rbac.authorization.k8s.io/v1/Role": { name: nameIsPathSegment, create: validateRole },
  "rbac.authorization.k8s.io/v1/ClusterRole": { name: nameIsPathSegment, create: validateClusterRole },
  "rbac.authorization.k8s.io/v1/RoleBinding": {
    name: nameIsPathSegment,
    create: (errs, obj) => validateBinding(errs, obj, true),
    update: validateBindingUpdate,
  },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": {
    name: nameIsPathSegment,
    create: (errs, obj) => validateBinding(errs, obj, false),
    update: validateBindingUpdate,
  },
};

function rulesFor(apiVersion: string, kind: string): KindRules {
  return KINDS[`${apiVersion}/${kind}`] ?? { name: nameIsPathSegment };
}

function metaOptions(apiVersion: string, kind: string, obj: KubeObject, rules: KindRules): MetaOptions {
  const info = findByKind(apiVersion, kind);
  return { namespaced: info?.namespaced, nameFn: rules.nameFor ? rules.nameFor(obj) : rules.name };
}

function validateBody(
  errs: Errs,
  apiVersion: string,
  kind: string,
  obj: KubeObject,
  rules: KindRules,
  hpaLowerBound: number,
): void {
  if (
    kind === "HorizontalPodAutoscaler" &&
    (apiVersion === "autoscaling/v2" || apiVersion === "autoscaling/v1")
  ) {
    validateHPASpec(errs, asV2(apiVersion, obj), hpaLowerBound);
  }
  rules.create?.(errs, obj, apiVersion);
}

/** Problems with a new object (after defaulting); empty when it may be stored. */
export function validateCreate(apiVersion: string, kind: string, obj: KubeObject): StatusCause[] {
  const errs: Errs = [];
  if (!isObj(obj)) return [fieldInvalid("", obj, "must be an object")];
  const rules = rulesFor(apiVersion, kind);
  validateObjectMeta(errs, obj.metadata, metaOptions(apiVersion, kind, obj, rules));
  validateBody(errs, apiVersion, kind, obj, rules, 1);
  rules.createOnly?.(errs, obj);
  return errs;
}

/** Problems with replacing `old` by `obj` (both in the request's version, `obj` defaulted). */
export function validateUpdate(
  apiVersion: string,
  kind: string,
  obj: KubeObject,
  old: KubeObject,
): StatusCause[] {
  const errs: Errs = [];
  if (!isObj(obj)) return [fieldInvalid("", obj, "must be an object")];
  const rules = rulesFor(apiVersion, kind);
  validateObjectMetaUpdate(errs, obj.metadata, old?.metadata);
  validateObjectMeta(errs, obj.metadata, metaOptions(apiVersion, kind, obj, rules));
  let hpaLowerBound = 1;
  if (kind === "HorizontalPodAutoscaler" && isObj(old) && asObj(asV2(apiVersion, old).spec).minReplicas === 0)
    hpaLowerBound = 0;
  validateBody(errs, apiVersion, kind, obj, rules, hpaLowerBound);
  if (isObj(old)) rules.update?.(errs, obj, old, apiVersion);
  return errs;
}
