/**
 * The iptables ruleset, as iptables-restore input, in kube-proxy's layout (pure: no I/O).
 *
 * filter: KUBE-SERVICES (REJECT/DROP for ClusterIPs without endpoints), KUBE-EXTERNAL-SERVICES
 *   (REJECT/DROP for external IPs, LB IPs and NodePorts without (local) endpoints),
 *   KUBE-NODEPORTS (health check node ports), KUBE-FORWARD, KUBE-PROXY-FIREWALL
 *   (loadBalancerSourceRanges drops).
 * nat: KUBE-SERVICES (ClusterIP/externalIP/LB IP dispatch, ends with the jump to
 *   KUBE-NODEPORTS), KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ; per service port
 *   KUBE-SVC- (Cluster policy), KUBE-SVL- (Local policy), KUBE-EXT- (external traffic),
 *   KUBE-FW- (source ranges), and one KUBE-SEP- per endpoint.
 *
 * The text is meant for `iptables-restore --noflush`: declared chains (`:NAME - [0:0]`) are
 * created or flushed, everything else is left alone. A partial sync therefore declares only
 * the top-level chains (always rewritten completely) and the chains of the services that
 * changed; chains that no longer exist are declared and then deleted with `-X`.
 *
 * The jumps from the built-in chains are not part of the restore input: kube-proxy installs
 * them one by one, idempotently (`ensureJumps`). The KUBE-PROXY-CANARY chains are created by
 * the runtime and never declared here (their disappearance tells it someone flushed a table).
 */
import type { Endpoint, Family, ProxyState, ServicePort } from "../model.js";
import {
  cidrContains,
  clusterCIDRsOf,
  endpointKey,
  iptablesChainsFor,
  isIptablesServiceChain,
  masqueradeMark,
  ofFamily,
  programmedServices,
  sepChain,
  serviceTopology,
} from "../names.js";

export const KUBE_SERVICES = "KUBE-SERVICES";
export const KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES";
export const KUBE_NODEPORTS = "KUBE-NODEPORTS";
export const KUBE_POSTROUTING = "KUBE-POSTROUTING";
export const KUBE_MARK_MASQ = "KUBE-MARK-MASQ";
export const KUBE_FORWARD = "KUBE-FORWARD";
export const KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL";
export const KUBE_PROXY_CANARY = "KUBE-PROXY-CANARY";

/** tables the runtime creates KUBE-PROXY-CANARY in (and watches) */
export const CANARY_TABLES = ["mangle", "nat", "filter"] as const;

/** top-level chains, rewritten completely on every sync, in declaration order */
export const FILTER_CHAINS = [
  KUBE_NODEPORTS,
  KUBE_SERVICES,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FORWARD,
  KUBE_PROXY_FIREWALL,
];
export const NAT_CHAINS = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ];

export interface GenerateOptions {
  /** full sync: every service's chains are written */
  full: boolean;
  /** servicePortNames whose chains must be rewritten in a partial sync (absent: all of them) */
  changed?: Set<string>;
  /** the per-service chains that exist now (as returned in `chains` last time), so stale ones are deleted */
  previousChains?: Set<string>;
  /** drop the per-endpoint comments (kube-proxy does so above 1000 endpoints) */
  commentsOff?: boolean;
}

export interface Ruleset {
  /** `*filter ... COMMIT` */
  filter: string;
  /** `*nat ... COMMIT` */
  nat: string;
  /** every per-service nat chain (KUBE-SVC/SVL/EXT/FW/SEP) that exists after this sync */
  chains: Set<string>;
}

/** a value for `--comment` in restore syntax: quoted when it has spaces */
function comment(text: string): string {
  return /[\s"]/.test(text) ? `"${text.replaceAll('"', "'")}"` : text;
}

function c(text: string): string {
  return `-m comment --comment ${comment(text)}`;
}

/** "1/(n-i)" with 10 decimals, as kube-proxy prints it */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

class Table {
  readonly declared: string[] = [];
  private readonly rules = new Map<string, string[]>();
  readonly deleted: string[] = [];

  declare(chain: string): void {
    this.declared.push(chain);
    this.rules.set(chain, []);
  }
  add(chain: string, rule: string): void {
    let r = this.rules.get(chain);
    if (!r) {
      r = [];
      this.rules.set(chain, r);
    }
    r.push(`-A ${chain} ${rule}`);
  }
  render(name: string): string {
    const out: string[] = [`*${name}`];
    for (const ch of this.declared) out.push(`:${ch} - [0:0]`);
    for (const ch of this.declared) {
      const r = this.rules.get(ch);
      if (r) for (const line of r) out.push(line);
    }
    for (const ch of this.deleted) out.push(`-X ${ch}`);
    out.push("COMMIT");
    return out.join("\n") + "\n";
  }
}

function portMatch(proto: string): string {
  return `-m ${proto} -p ${proto}`;
}

export function generate(state: ProxyState, opts: GenerateOptions): Ruleset {
  const family: Family = state.family;
  const cfg = state.config;
  const mark = masqueradeMark(cfg.masqueradeBit ?? 14);
  const podCIDRs = clusterCIDRsOf(cfg.clusterCIDR, family);
  const nodeAddrs = ofFamily(state.node.nodePortAddresses, family);
  const commentsOn = !opts.commentsOff;

  const filter = new Table();
  const nat = new Table();
  for (const ch of FILTER_CHAINS) filter.declare(ch);
  for (const ch of NAT_CHAINS) nat.declare(ch);

  // the per-service chains' declarations and rules, collected per chain then sorted
  const svcChainRules = new Map<string, string[]>();
  const active = new Set<string>();
  const addSvc = (chain: string, rule: string) => {
    let r = svcChainRules.get(chain);
    if (!r) {
      r = [];
      svcChainRules.set(chain, r);
    }
    r.push(rule);
  };

  for (const sp of programmedServices(state.services, family)) {
    const spn = sp.servicePortName;
    const proto = sp.protocol.toLowerCase();
    const pm = portMatch(proto);
    const cip = sp.clusterIP!;
    const port = sp.port;
    const t = serviceTopology(sp, state.endpoints.get(spn));
    const names = iptablesChainsFor(sp);
    const rewrite = opts.full || !opts.changed || opts.changed.has(spn);
    const externalIPs = ofFamily(sp.externalIPs, family);
    const lbIPs = ofFamily(sp.loadBalancerIPs, family);
    const sourceRanges = ofFamily(sp.loadBalancerSourceRanges, family);

    const internalChain = sp.internalPolicyLocal ? names.svl : names.svc;
    const externalPolicyChain = sp.externalPolicyLocal ? names.svl : names.svc;
    const usesExt = t.hasEndpoints && t.externallyAccessible;
    const usesFW = t.hasEndpoints && lbIPs.length > 0 && sourceRanges.length > 0;

    let internalVerdict = "";
    let externalVerdict = "";
    let internalFilterComment = "";
    let externalFilterComment = "";
    if (!t.hasEndpoints) {
      internalVerdict = externalVerdict = "REJECT";
      internalFilterComment = externalFilterComment = `${spn} has no endpoints`;
    } else {
      if (!t.hasInternalEndpoints) {
        internalVerdict = "DROP";
        internalFilterComment = `${spn} has no local endpoints`;
      }
      if (!t.hasExternalEndpoints) {
        externalVerdict = "DROP";
        externalFilterComment = `${spn} has no local endpoints`;
      }
    }

    // the chains this service port owns after this sync
    const owned: string[] = [];
    if (t.usesClusterChain) owned.push(names.svc);
    if (t.usesLocalChain) owned.push(names.svl);
    if (usesExt) owned.push(names.ext);
    if (usesFW) owned.push(names.fw);
    const sepOf = new Map<string, string>();
    for (const ep of t.reachable) {
      const key = endpointKey(ep);
      const sep = sepChain(spn, sp.protocol, key);
      sepOf.set(key, sep);
      owned.push(sep);
    }
    for (const ch of owned) active.add(ch);
    if (rewrite) for (const ch of owned) svcChainRules.set(ch, []);

    // ClusterIP
    const cipMatch = `${pm} -d ${cip} --dport ${port}`;
    if (t.hasInternalEndpoints) {
      nat.add(KUBE_SERVICES, `${c(`${spn} cluster IP`)} ${cipMatch} -j ${internalChain}`);
      if (rewrite) {
        if (cfg.masqueradeAll)
          addSvc(internalChain, `${c(`${spn} cluster IP`)} ${cipMatch} -j ${KUBE_MARK_MASQ}`);
        else
          for (const cidr of podCIDRs)
            addSvc(internalChain, `${c(`${spn} cluster IP`)} ${cipMatch} ! -s ${cidr} -j ${KUBE_MARK_MASQ}`);
      }
    } else {
      filter.add(KUBE_SERVICES, `${c(internalFilterComment)} ${cipMatch} -j ${internalVerdict}`);
    }

    // externalIPs
    for (const ip of externalIPs) {
      const m = `${pm} -d ${ip} --dport ${port}`;
      if (t.hasEndpoints) nat.add(KUBE_SERVICES, `${c(`${spn} external IP`)} ${m} -j ${names.ext}`);
      if (!t.hasExternalEndpoints)
        filter.add(KUBE_EXTERNAL_SERVICES, `${c(externalFilterComment)} ${m} -j ${externalVerdict}`);
    }

    // LoadBalancer ingress IPs
    for (const ip of lbIPs) {
      const m = `${pm} -d ${ip} --dport ${port}`;
      if (t.hasEndpoints)
        nat.add(KUBE_SERVICES, `${c(`${spn} loadbalancer IP`)} ${m} -j ${usesFW ? names.fw : names.ext}`);
      if (usesFW)
        filter.add(KUBE_PROXY_FIREWALL, `${c(`${spn} traffic not accepted by ${names.fw}`)} ${m} -j DROP`);
    }
    if (!t.hasExternalEndpoints) {
      for (const ip of lbIPs)
        filter.add(
          KUBE_EXTERNAL_SERVICES,
          `${c(externalFilterComment)} ${pm} -d ${ip} --dport ${port} -j ${externalVerdict}`,
        );
    }

    // NodePort
    if (sp.nodePort) {
      if (t.hasEndpoints) nat.add(KUBE_NODEPORTS, `${c(spn)} ${pm} --dport ${sp.nodePort} -j ${names.ext}`);
      if (!t.hasExternalEndpoints)
        filter.add(
          KUBE_EXTERNAL_SERVICES,
          `${c(externalFilterComment)} -m addrtype --dst-type LOCAL ${pm} --dport ${sp.nodePort} -j ${externalVerdict}`,
        );
    }

    // health check node port (ETP Local): let it in past any host firewall
    if (sp.healthCheckNodePort && sp.externalPolicyLocal) {
      filter.add(
        KUBE_NODEPORTS,
        `${c(`${spn} health check node port`)} -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`,
      );
    }

    if (!rewrite) continue;

    // KUBE-EXT-: masquerade (ETP Cluster) or short-circuit pod/host traffic (ETP Local)
    if (usesExt) {
      if (!sp.externalPolicyLocal) {
        addSvc(names.ext, `${c(`masquerade traffic for ${spn} external destinations`)} -j ${KUBE_MARK_MASQ}`);
      } else {
        for (const cidr of podCIDRs)
          addSvc(
            names.ext,
            `${c(`pod traffic for ${spn} external destinations`)} -s ${cidr} -j ${names.svc}`,
          );
        addSvc(
          names.ext,
          `${c(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
        );
        addSvc(
          names.ext,
          `${c(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${names.svc}`,
        );
      }
      if (t.hasExternalEndpoints) addSvc(names.ext, `-j ${externalPolicyChain}`);
    }

    // KUBE-FW-: allowed sources go on to KUBE-EXT-; the rest falls through to the DROP in
    // filter KUBE-PROXY-FIREWALL
    if (usesFW) {
      for (const r of sourceRanges)
        addSvc(names.fw, `${c(`${spn} loadbalancer IP`)} -s ${r} -j ${names.ext}`);
      // a VIP bound locally loops back with the VIP as source: allow it when the node may connect
      if (sourceRanges.some((r) => nodeAddrs.some((a) => cidrContains(r, a)))) {
        for (const ip of lbIPs) addSvc(names.fw, `${c(`${spn} loadbalancer IP`)} -s ${ip} -j ${names.ext}`);
      }
      addSvc(names.fw, `${c(`other traffic to ${spn} will be dropped by ${KUBE_PROXY_FIREWALL}`)}`);
    }

    if (t.usesClusterChain) writeEndpointJumps(addSvc, sp, names.svc, t.cluster, sepOf, commentsOn);
    if (t.usesLocalChain) writeEndpointJumps(addSvc, sp, names.svl, t.local, sepOf, commentsOn);

    // KUBE-SEP-: hairpin masquerade, (affinity), DNAT
    for (const ep of t.reachable) {
      const key = endpointKey(ep);
      const sep = sepOf.get(key)!;
      const cm = commentsOn ? `${c(spn)} ` : "";
      addSvc(sep, `${cm}-s ${ep.ip} -j ${KUBE_MARK_MASQ}`);
      const aff = sp.sessionAffinityClientIP ? `-m recent --name ${sep} --set ` : "";
      addSvc(sep, `${cm}${aff}${pm} -j DNAT --to-destination ${key}`);
    }
  }

  // the jump to KUBE-NODEPORTS is the last rule of nat KUBE-SERVICES
  const npComment = c("kubernetes service nodeports; NOTE: this must be the last rule in this chain");
  if (state.node.nodePortOnAllLocal) {
    nat.add(KUBE_SERVICES, `${npComment} -m addrtype --dst-type LOCAL -j ${KUBE_NODEPORTS}`);
  } else {
    for (const ip of nodeAddrs) {
      if (isLoopback(ip)) continue;
      nat.add(KUBE_SERVICES, `${npComment} -d ${ip} -j ${KUBE_NODEPORTS}`);
    }
  }

  // masquerading
  nat.add(KUBE_POSTROUTING, `-m mark ! --mark ${mark}/${mark} -j RETURN`);
  nat.add(KUBE_POSTROUTING, `-j MARK --xor-mark ${mark}`);
  nat.add(KUBE_POSTROUTING, `${c("kubernetes service traffic requiring SNAT")} -j MASQUERADE --random-fully`);
  nat.add(KUBE_MARK_MASQ, `-j MARK --or-mark ${mark}`);

  // forwarding
  filter.add(KUBE_FORWARD, `-m conntrack --ctstate INVALID -j DROP`);
  filter.add(KUBE_FORWARD, `${c("kubernetes forwarding rules")} -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filter.add(
    KUBE_FORWARD,
    `${c("kubernetes forwarding conntrack rule")} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );

  // per-service chains, in name order
  for (const ch of [...svcChainRules.keys()].sort()) {
    nat.declare(ch);
    for (const r of svcChainRules.get(ch)!) nat.add(ch, r);
  }
  // stale chains: declare (flush) then delete
  if (opts.previousChains) {
    const stale = [...opts.previousChains]
      .filter((ch) => isIptablesServiceChain(ch) && !active.has(ch))
      .sort();
    for (const ch of stale) {
      nat.declare(ch);
      nat.deleted.push(ch);
    }
  }

  return { filter: filter.render("filter"), nat: nat.render("nat"), chains: active };
}

function isLoopback(ip: string): boolean {
  return ip === "::1" || ip.startsWith("127.");
}

function writeEndpointJumps(
  add: (chain: string, rule: string) => void,
  sp: ServicePort,
  chain: string,
  eps: readonly Endpoint[],
  sepOf: Map<string, string>,
  commentsOn: boolean,
): void {
  const spn = sp.servicePortName;
  const cm = (key: string) => (commentsOn ? `${c(`${spn} -> ${key}`)} ` : "");
  // affinity first: a client seen recently goes back to the same endpoint
  if (sp.sessionAffinityClientIP) {
    for (const ep of eps) {
      const key = endpointKey(ep);
      const sep = sepOf.get(key)!;
      add(
        chain,
        `${cm(key)}-m recent --name ${sep} --rcheck --seconds ${sp.stickyMaxAgeSeconds} --reap -j ${sep}`,
      );
    }
  }
  const n = eps.length;
  eps.forEach((ep, i) => {
    const key = endpointKey(ep);
    const sep = sepOf.get(key)!;
    const stat = i < n - 1 ? `-m statistic --mode random --probability ${probability(n - i)} ` : "";
    add(chain, `${cm(key)}${stat}-j ${sep}`);
  });
}

/** the concatenation iptables-restore reads in one go */
export function restoreText(r: Pick<Ruleset, "filter" | "nat">): string {
  return r.filter + r.nat;
}

// ---------------------------------------------------------------- base chain jumps

export interface BaseJump {
  table: "filter" | "nat";
  /** the built-in chain the jump lives in */
  chain: "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING";
  /** the kube-proxy chain jumped to */
  target: string;
  /** the rule spec (argv, no quoting needed) */
  rule: string[];
  /** argv for `iptables -w ...` that checks the rule exists (exit 1 when not) */
  check: string[];
  /** argv that inserts it at the top */
  insert: string[];
  /** argv that removes it (cleanup) */
  delete: string[];
}

const JUMPS: {
  table: "filter" | "nat";
  target: string;
  chain: BaseJump["chain"];
  comment: string;
  extra: string[];
}[] = [
  {
    table: "filter",
    target: KUBE_EXTERNAL_SERVICES,
    chain: "INPUT",
    comment: "kubernetes externally-visible service portals",
    extra: ["-m", "conntrack", "--ctstate", "NEW"],
  },
  {
    table: "filter",
    target: KUBE_EXTERNAL_SERVICES,
    chain: "FORWARD",
    comment: "kubernetes externally-visible service portals",
    extra: ["-m", "conntrack", "--ctstate", "NEW"],
  },
  {
    table: "filter",
    target: KUBE_NODEPORTS,
    chain: "INPUT",
    comment: "kubernetes health check service ports",
    extra: [],
  },
  {
    table: "filter",
    target: KUBE_SERVICES,
    chain: "FORWARD",
    comment: "kubernetes service portals",
    extra: ["-m", "conntrack", "--ctstate", "NEW"],
  },
  {
    table: "filter",
    target: KUBE_SERVICES,
    chain: "OUTPUT",
    comment: "kubernetes service portals",
    extra: ["-m", "conntrack", "--ctstate", "NEW"],
  },
  {
    table: "filter",
    target: KUBE_FORWARD,
    chain: "FORWARD",
    comment: "kubernetes forwarding rules",
    extra: [],
  },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "INPUT",
    comment: "kubernetes load balancer firewall",
    extra: ["-m", "conntrack", "--ctstate", "NEW"],
  },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "OUTPUT",
    comment: "kubernetes load balancer firewall",
    extra: ["-m", "conntrack", "--ctstate", "NEW"],
  },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "FORWARD",
    comment: "kubernetes load balancer firewall",
    extra: ["-m", "conntrack", "--ctstate", "NEW"],
  },
  { table: "nat", target: KUBE_SERVICES, chain: "OUTPUT", comment: "kubernetes service portals", extra: [] },
  {
    table: "nat",
    target: KUBE_SERVICES,
    chain: "PREROUTING",
    comment: "kubernetes service portals",
    extra: [],
  },
  {
    table: "nat",
    target: KUBE_POSTROUTING,
    chain: "POSTROUTING",
    comment: "kubernetes postrouting rules",
    extra: [],
  },
];

export interface EnsureJumps {
  /** argv creating each chain a jump points to (`-t T -N C`; exit 1 "already exists" is fine) */
  chains: string[][];
  /** the jumps, in the order kube-proxy ensures them (each: `-C` then, if missing, `-I`) */
  jumps: BaseJump[];
}

/**
 * The jumps kube-proxy keeps in the built-in chains. The runtime applies them with the
 * iptables binary of `family` (iptables / ip6tables, legacy or nft per the wrapper logic):
 * create the target chain, then `-C` and `-I` only when the check fails.
 */
export function ensureJumps(family: Family): EnsureJumps {
  void family; // the argv is the same for both families; only the binary differs
  const chains: string[][] = [];
  const seen = new Set<string>();
  const jumps: BaseJump[] = [];
  for (const j of JUMPS) {
    const key = `${j.table}/${j.target}`;
    if (!seen.has(key)) {
      seen.add(key);
      chains.push(["-t", j.table, "-N", j.target]);
    }
    const rule = ["-m", "comment", "--comment", j.comment, ...j.extra, "-j", j.target];
    jumps.push({
      table: j.table,
      chain: j.chain,
      target: j.target,
      rule,
      check: ["-t", j.table, "-C", j.chain, ...rule],
      insert: ["-t", j.table, "-I", j.chain, ...rule],
      delete: ["-t", j.table, "-D", j.chain, ...rule],
    });
  }
  return { chains, jumps };
}

/** argv creating the canary chains (`-t T -N KUBE-PROXY-CANARY`); `-L` on them tells whether they survive */
/**
 * The canary: a KUBE-PROXY-CANARY chain in mangle, nat and filter holding one RETURN rule. A
 * chain alone survives `iptables -F` (which empties chains), so the rule is what shows that
 * someone flushed a table; then the proxier does a full resync.
 */
export function canaryChains(): { create: string[][]; rule: string[][]; delete: string[][] } {
  return {
    create: CANARY_TABLES.map((t) => ["-t", t, "-N", KUBE_PROXY_CANARY]),
    /** "-A" lines; the same with -C checks that the rule is still there */
    rule: CANARY_TABLES.map((t) => ["-t", t, "-A", KUBE_PROXY_CANARY, "-j", "RETURN"]),
    delete: CANARY_TABLES.flatMap((t) => [
      ["-t", t, "-F", KUBE_PROXY_CANARY],
      ["-t", t, "-X", KUBE_PROXY_CANARY],
    ]),
  };
}

// ---------------------------------------------------------------- cleanup

/** the KUBE-* chains of one table found in `iptables-save` output that kubeplane owns */
export function kubeChainsIn(saveOutput: string, table: "filter" | "nat"): string[] {
  const own = new Set<string>(table === "nat" ? NAT_CHAINS : FILTER_CHAINS);
  const out: string[] = [];
  let current = "";
  for (const line of saveOutput.split("\n")) {
    if (line.startsWith("*")) current = line.slice(1).trim();
    else if (current === table && line.startsWith(":")) {
      const name = line.slice(1).split(" ")[0]!;
      if (own.has(name) || (table === "nat" && isIptablesServiceChain(name))) out.push(name);
    }
  }
  return out;
}

export interface Cleanup {
  /** first: argv removing the jumps from the built-in chains (`-D`; "does not exist" is fine) */
  deleteJumps: string[][];
  /** then: iptables-restore --noflush input that flushes and deletes the chains */
  restore: string;
  /** last: argv deleting the canary chains (`-X`; ignore failures) */
  deleteCanaries: string[][];
}

/**
 * What `--cleanup` removes: the jumps kube-proxy installed, every top-level KUBE-* chain of
 * its layout, every per-service chain (KUBE-SVC/SVL/EXT/FW/SEP; pass the names found with
 * `kubeChainsIn(iptables-save)`), and the canaries. Other KUBE-* chains (kubelet's
 * KUBE-FIREWALL, KUBE-KUBELET-CANARY, ...) are left alone.
 */
export function cleanupRuleset(existing?: { nat?: readonly string[] }): Cleanup {
  const { jumps } = ensureJumps(4);
  const nat = [...new Set([...NAT_CHAINS, ...(existing?.nat ?? []).filter(isIptablesServiceChain)])];
  const filter = [...FILTER_CHAINS];
  const section = (name: string, chains: string[]) =>
    [`*${name}`, ...chains.map((ch) => `:${ch} - [0:0]`), ...chains.map((ch) => `-X ${ch}`), "COMMIT"].join(
      "\n",
    ) + "\n";
  return {
    deleteJumps: jumps.map((j) => j.delete),
    restore: section("filter", filter) + section("nat", nat),
    deleteCanaries: canaryChains().delete,
  };
}
