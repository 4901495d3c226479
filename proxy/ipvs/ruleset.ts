/**
 * The IPVS-mode writer (pure: no I/O): virtual servers as `ipvsadm --restore` input, the ipsets
 * as `ipset restore` input, and the iptables rules IPVS mode needs (masquerade marks, hairpin,
 * source ranges) as iptables-restore input; plus the VIPs to bind to the kube-ipvs0 dummy
 * interface.
 *
 * Layout (kube-proxy's IPVS mode): one virtual server per ClusterIP, externalIP, LB IP and per
 * node address x NodePort, scheduler rr, `-p T` for ClientIP affinity, real servers in
 * masquerade (NAT) mode with weight 1. ipsets KUBE-CLUSTER-IP, KUBE-EXTERNAL-IP,
 * KUBE-LOAD-BALANCER, KUBE-LOAD-BALANCER-FW, KUBE-LOAD-BALANCER-SOURCE-CIDR, KUBE-LOOP-BACK,
 * KUBE-NODE-PORT-TCP/-UDP (bitmap:port), KUBE-NODE-PORT-SCTP-HASH (IPv6 sets are "KUBE-6-...").
 *
 * Tested with golden files only: this machine's kernel has no IP_VS (and no ipset tool), so
 * nothing here is ever applied in tests. IPVS mode is deprecated upstream (1.35); prefer
 * nftables.
 */
import type { Endpoint, Family, ProxyState, ServicePort } from "../model.js";
import {
  clusterCIDRsOf,
  joinHostPort,
  masqueradeMark,
  ofFamily,
  programmedServices,
  serviceTopology,
} from "../names.js";

export const DUMMY_INTERFACE = "kube-ipvs0";

/** the chains IPVS mode writes (each rewritten completely by every restore), in declaration order */
export const IPVS_NAT_CHAINS = [
  "KUBE-SERVICES",
  "KUBE-POSTROUTING",
  "KUBE-NODE-PORT",
  "KUBE-LOAD-BALANCER",
  "KUBE-MARK-MASQ",
] as const;
export const IPVS_FILTER_CHAINS = [
  "KUBE-FORWARD",
  "KUBE-PROXY-FIREWALL",
  "KUBE-SOURCE-RANGES-FIREWALL",
] as const;
/** chains only IPVS mode has (the iptables-mode layout shares the others) */
export const IPVS_ONLY_CHAINS = {
  nat: ["KUBE-NODE-PORT", "KUBE-LOAD-BALANCER"],
  filter: ["KUBE-SOURCE-RANGES-FIREWALL"],
} as const;

export interface IpvsRuleset {
  /** `ipvsadm --restore` input (apply after `ipvsadm -C`, or diff against `ipvsadm -Sn`) */
  ipvs: string;
  /** `ipset restore` input (creates with -exist, flushes, refills) */
  ipset: string;
  /** `iptables-restore --noflush` input (filter + nat) */
  iptables: string;
  /** the service VIPs to bind to kube-ipvs0 (ClusterIPs, externalIPs, LB IPs) */
  addresses: string[];
  /** the same ipsets as data (for the runtime's atomic swap), in `ipset` order */
  sets: IpsetSpec[];
}

export interface IpsetSpec {
  name: string;
  /** e.g. "hash:ip,port" */
  type: string;
  /** the create options after the type, e.g. "family inet hashsize 1024 maxelem 65536 comment" */
  options: string;
  comment: string;
  entries: string[];
}

export type SetName =
  | "CLUSTER-IP"
  | "EXTERNAL-IP"
  | "LOAD-BALANCER"
  | "LOAD-BALANCER-FW"
  | "LOAD-BALANCER-SOURCE-CIDR"
  | "LOOP-BACK"
  | "NODE-PORT-TCP"
  | "NODE-PORT-UDP"
  | "NODE-PORT-SCTP-HASH";

const SET_TYPES: Record<SetName, { type: string; comment: string }> = {
  "CLUSTER-IP": {
    type: "hash:ip,port",
    comment: "Kubernetes service cluster ip + port for masquerade purpose",
  },
  "EXTERNAL-IP": {
    type: "hash:ip,port",
    comment: "Kubernetes service external ip + port for masquerade and filter purpose",
  },
  "LOAD-BALANCER": { type: "hash:ip,port", comment: "Kubernetes service lb portal" },
  "LOAD-BALANCER-FW": {
    type: "hash:ip,port",
    comment: "Kubernetes service load balancer ip + port for load balancer with sourceRange",
  },
  "LOAD-BALANCER-SOURCE-CIDR": {
    type: "hash:ip,port,net",
    comment: "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
  },
  "LOOP-BACK": {
    type: "hash:ip,port,ip",
    comment: "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
  },
  "NODE-PORT-TCP": { type: "bitmap:port", comment: "Kubernetes nodeport TCP port for masquerade purpose" },
  "NODE-PORT-UDP": { type: "bitmap:port", comment: "Kubernetes nodeport UDP port for masquerade purpose" },
  "NODE-PORT-SCTP-HASH": {
    type: "hash:ip,port",
    comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
  },
};
const SET_ORDER = Object.keys(SET_TYPES) as SetName[];

/** IPSET_MAXNAMELEN - 1 */
export const IPSET_MAX_NAME = 31;

/** upstream's names: "KUBE-X" for IPv4, "KUBE-6-X" for IPv6, truncated to 31 characters like upstream */
export function ipsetName(set: SetName, family: Family): string {
  return family === 6 ? `KUBE-6-${set}`.slice(0, IPSET_MAX_NAME) : `KUBE-${set}`;
}

/** every ipset name IPVS mode uses in one family */
export function ipsetNames(family: Family): string[] {
  return SET_ORDER.map((s) => ipsetName(s, family));
}

function vsFlag(sp: ServicePort): string {
  return sp.protocol === "UDP" ? "-u" : sp.protocol === "SCTP" ? "--sctp-service" : "-t";
}

export function generateIpvs(state: ProxyState): IpvsRuleset {
  const family = state.family;
  const podCIDRs = clusterCIDRsOf(state.config.clusterCIDR, family);
  const nodeAddrs = ofFamily(state.node.nodePortAddresses, family).filter(
    (a) => a !== "::1" && !a.startsWith("127."),
  );
  const mark = masqueradeMark(state.config.masqueradeBit ?? 14);
  const name = (s: SetName) => ipsetName(s, family);

  const ipvs: string[] = [];
  const entries = new Map<SetName, Set<string>>(SET_ORDER.map((s) => [s, new Set<string>()]));
  const addresses = new Set<string>();
  const entry = (s: SetName, e: string) => entries.get(s)!.add(e);

  const virtualServer = (sp: ServicePort, ip: string, port: number, reals: readonly Endpoint[]) => {
    const vs = `${vsFlag(sp)} ${joinHostPort(ip, port)}`;
    ipvs.push(`-A ${vs} -s rr${sp.sessionAffinityClientIP ? ` -p ${sp.stickyMaxAgeSeconds}` : ""}`);
    for (const ep of reals) ipvs.push(`-a ${vs} -r ${joinHostPort(ep.ip, ep.port)} -m -w 1`);
  };

  for (const sp of programmedServices(state.services, family)) {
    const proto = sp.protocol.toLowerCase();
    const t = serviceTopology(sp, state.endpoints.get(sp.servicePortName));
    const internal = sp.internalPolicyLocal ? t.local : t.cluster;
    const external = sp.externalPolicyLocal ? t.local : t.cluster;
    const cip = sp.clusterIP!;
    const externalIPs = ofFamily(sp.externalIPs, family);
    const lbIPs = ofFamily(sp.loadBalancerIPs, family);
    const sourceRanges = ofFamily(sp.loadBalancerSourceRanges, family);

    virtualServer(sp, cip, sp.port, internal);
    addresses.add(cip);
    entry("CLUSTER-IP", `${cip},${proto}:${sp.port}`);
    for (const ep of t.reachable) entry("LOOP-BACK", `${ep.ip},${proto}:${ep.port},${ep.ip}`);

    for (const ip of externalIPs) {
      virtualServer(sp, ip, sp.port, external);
      addresses.add(ip);
      entry("EXTERNAL-IP", `${ip},${proto}:${sp.port}`);
    }
    for (const ip of lbIPs) {
      virtualServer(sp, ip, sp.port, external);
      addresses.add(ip);
      entry("LOAD-BALANCER", `${ip},${proto}:${sp.port}`);
      if (sourceRanges.length) {
        entry("LOAD-BALANCER-FW", `${ip},${proto}:${sp.port}`);
        for (const r of sourceRanges) entry("LOAD-BALANCER-SOURCE-CIDR", `${ip},${proto}:${sp.port},${r}`);
      }
    }
    if (sp.nodePort) {
      for (const ip of nodeAddrs) virtualServer(sp, ip, sp.nodePort, external);
      if (sp.protocol === "TCP") entry("NODE-PORT-TCP", String(sp.nodePort));
      else if (sp.protocol === "UDP") entry("NODE-PORT-UDP", String(sp.nodePort));
      else for (const ip of nodeAddrs) entry("NODE-PORT-SCTP-HASH", `${ip},sctp:${sp.nodePort}`);
    }
  }

  // ipsets
  const inet = family === 6 ? "inet6" : "inet";
  const ipset: string[] = [];
  const sets: IpsetSpec[] = [];
  for (const s of SET_ORDER) {
    const { type, comment } = SET_TYPES[s];
    const opts = type.startsWith("bitmap:port")
      ? "range 0-65535"
      : `family ${inet} hashsize 1024 maxelem 65536`;
    ipset.push(`create ${name(s)} ${type} ${opts} comment -exist`);
    ipset.push(`flush ${name(s)}`);
    for (const e of entries.get(s)!) ipset.push(`add ${name(s)} ${e} comment "${comment}" -exist`);
    sets.push({ name: name(s), type, options: `${opts} comment`, comment, entries: [...entries.get(s)!] });
  }

  // iptables
  const nat: string[] = ["*nat"];
  for (const ch of IPVS_NAT_CHAINS) nat.push(`:${ch} - [0:0]`);
  const cm = (s: SetName) => `-m comment --comment "${SET_TYPES[s].comment}"`;
  if (state.config.masqueradeAll) {
    nat.push(
      `-A KUBE-SERVICES ${cm("CLUSTER-IP")} -m set --match-set ${name("CLUSTER-IP")} dst,dst -j KUBE-MARK-MASQ`,
    );
  } else {
    for (const cidr of podCIDRs)
      nat.push(
        `-A KUBE-SERVICES ${cm("CLUSTER-IP")} -m set --match-set ${name("CLUSTER-IP")} dst,dst ! -s ${cidr} -j KUBE-MARK-MASQ`,
      );
  }
  nat.push(
    `-A KUBE-SERVICES ${cm("EXTERNAL-IP")} -m set --match-set ${name("EXTERNAL-IP")} dst,dst -j KUBE-MARK-MASQ`,
    `-A KUBE-SERVICES ${cm("LOAD-BALANCER")} -m set --match-set ${name("LOAD-BALANCER")} dst,dst -j KUBE-LOAD-BALANCER`,
  );
  if (state.node.nodePortOnAllLocal)
    nat.push(`-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT`);
  else for (const ip of nodeAddrs) nat.push(`-A KUBE-SERVICES -d ${ip} -j KUBE-NODE-PORT`);
  nat.push(
    `-A KUBE-SERVICES -m set --match-set ${name("CLUSTER-IP")} dst,dst -j ACCEPT`,
    `-A KUBE-SERVICES -m set --match-set ${name("LOAD-BALANCER")} dst,dst -j ACCEPT`,
    `-A KUBE-NODE-PORT -p tcp ${cm("NODE-PORT-TCP")} -m set --match-set ${name("NODE-PORT-TCP")} dst -j KUBE-MARK-MASQ`,
    `-A KUBE-NODE-PORT -p udp ${cm("NODE-PORT-UDP")} -m set --match-set ${name("NODE-PORT-UDP")} dst -j KUBE-MARK-MASQ`,
    `-A KUBE-NODE-PORT -p sctp ${cm("NODE-PORT-SCTP-HASH")} -m set --match-set ${name("NODE-PORT-SCTP-HASH")} dst,dst -j KUBE-MARK-MASQ`,
    `-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ`,
    `-A KUBE-POSTROUTING ${cm("LOOP-BACK")} -m set --match-set ${name("LOOP-BACK")} dst,dst,src -j MASQUERADE`,
    `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
    "COMMIT",
  );
  const filter = [
    "*filter",
    ...IPVS_FILTER_CHAINS.map((ch) => `:${ch} - [0:0]`),
    `-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP`,
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A KUBE-PROXY-FIREWALL ${cm("LOAD-BALANCER-FW")} -m set --match-set ${name("LOAD-BALANCER-FW")} dst,dst -j KUBE-SOURCE-RANGES-FIREWALL`,
    `-A KUBE-SOURCE-RANGES-FIREWALL ${cm("LOAD-BALANCER-SOURCE-CIDR")} -m set --match-set ${name("LOAD-BALANCER-SOURCE-CIDR")} dst,dst,src -j RETURN`,
    `-A KUBE-SOURCE-RANGES-FIREWALL -j DROP`,
    "COMMIT",
  ];

  return {
    ipvs: ipvs.length ? ipvs.join("\n") + "\n" : "",
    ipset: ipset.join("\n") + "\n",
    iptables: filter.join("\n") + "\n" + nat.join("\n") + "\n",
    addresses: [...addresses],
    sets,
  };
}

/** the built-in chain jumps IPVS mode keeps (same shape as iptables' ensureJumps rules) */
export const IPVS_JUMPS: { table: "filter" | "nat"; chain: string; target: string; comment: string }[] = [
  { table: "nat", chain: "OUTPUT", target: "KUBE-SERVICES", comment: "kubernetes service portals" },
  { table: "nat", chain: "PREROUTING", target: "KUBE-SERVICES", comment: "kubernetes service portals" },
  { table: "nat", chain: "POSTROUTING", target: "KUBE-POSTROUTING", comment: "kubernetes postrouting rules" },
  { table: "filter", chain: "FORWARD", target: "KUBE-FORWARD", comment: "kubernetes forwarding rules" },
  { table: "filter", chain: "INPUT", target: "KUBE-PROXY-FIREWALL", comment: "kube-proxy firewall rules" },
  { table: "filter", chain: "FORWARD", target: "KUBE-PROXY-FIREWALL", comment: "kube-proxy firewall rules" },
];
