/**
 * The small state the golden tests of all three generators share (upstream's test
 * conventions: pods 10.0.0.0/8, ClusterIPs 172.30.0.0/16, node 192.168.0.2, LB 1.2.3.4,
 * off-cluster clients 203.0.113.0/24).
 */
import type { Endpoint, ProxyState, ServicePort } from "../../model.js";

export function svc(
  ns: string,
  name: string,
  portName: string,
  over: Partial<ServicePort> = {},
): ServicePort {
  return {
    servicePortName: `${ns}/${name}:${portName}`,
    namespace: ns,
    name,
    portName,
    protocol: "TCP",
    family: 4,
    port: 80,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    sessionAffinityClientIP: false,
    stickyMaxAgeSeconds: 10800,
    ...over,
  };
}

export function ep(ip: string, port: number, over: Partial<Endpoint> = {}): Endpoint {
  return { ip, port, isLocal: false, ready: true, serving: true, terminating: false, ...over };
}

export function fixtureState(): ProxyState {
  const services: ServicePort[] = [
    // ClusterIP, 3 endpoints (one on this node)
    svc("ns1", "svc1", "p80", { clusterIP: "172.30.0.41" }),
    // NodePort
    svc("ns2", "svc2", "http", { clusterIP: "172.30.0.42", nodePort: 30080 }),
    // no endpoints, with an external IP
    svc("ns3", "svc3", "p80", { clusterIP: "172.30.0.43", externalIPs: ["192.168.99.33"] }),
    // LoadBalancer, ETP Local, source ranges, health check node port
    svc("ns4", "svc4", "p80", {
      clusterIP: "172.30.0.44",
      nodePort: 30044,
      loadBalancerIPs: ["1.2.3.4"],
      loadBalancerSourceRanges: ["203.0.113.0/25"],
      externalPolicyLocal: true,
      healthCheckNodePort: 30000,
    }),
    // UDP with ClientIP affinity
    svc("ns5", "svc5", "dns", {
      clusterIP: "172.30.0.45",
      protocol: "UDP",
      port: 53,
      sessionAffinityClientIP: true,
    }),
    // only terminating endpoints
    svc("ns6", "svc6", "p80", { clusterIP: "172.30.0.46" }),
    // ETP Local + ITP Local without local endpoints
    svc("ns7", "svc7", "p80", {
      clusterIP: "172.30.0.47",
      nodePort: 30047,
      externalPolicyLocal: true,
      internalPolicyLocal: true,
    }),
    // headless: not programmed
    svc("ns8", "headless", "p80", {}),
  ];
  const endpoints = new Map<string, Endpoint[]>([
    [
      "ns1/svc1:p80",
      [ep("10.180.0.1", 8080, { isLocal: true }), ep("10.180.1.2", 8080), ep("10.180.2.3", 8080)],
    ],
    ["ns2/svc2:http", [ep("10.180.1.1", 80)]],
    ["ns4/svc4:p80", [ep("10.180.0.4", 80, { isLocal: true }), ep("10.180.2.4", 80)]],
    ["ns5/svc5:dns", [ep("10.180.1.5", 53), ep("10.180.2.5", 53)]],
    [
      "ns6/svc6:p80",
      [
        ep("10.180.0.6", 80, { ready: false, serving: true, terminating: true }),
        ep("10.180.0.7", 80, { ready: false, serving: false, terminating: true }),
      ],
    ],
    ["ns7/svc7:p80", [ep("10.180.2.7", 80)]],
  ]);
  return {
    family: 4,
    services,
    endpoints,
    node: { name: "test-node", nodePortAddresses: ["192.168.0.2"], nodePortOnAllLocal: true },
    config: { clusterCIDR: "10.0.0.0/8", masqueradeAll: false, masqueradeBit: 14 },
  };
}

/** the fixture after: ns1 loses 10.180.2.3, ns2 is deleted, ns3 gets a (local) endpoint */
export function changedState(): ProxyState {
  const s = fixtureState();
  s.services = s.services.filter((x) => x.name !== "svc2");
  s.endpoints.set("ns1/svc1:p80", s.endpoints.get("ns1/svc1:p80")!.slice(0, 2));
  s.endpoints.delete("ns2/svc2:http");
  s.endpoints.set("ns3/svc3:p80", [ep("10.180.0.3", 80, { isLocal: true })]);
  return s;
}

/** the servicePortNames changedState() touches */
export const CHANGED = new Set(["ns1/svc1:p80", "ns2/svc2:http", "ns3/svc3:p80"]);
