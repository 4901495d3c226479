/** IP address helpers for DNS names: canonical keys, reverse (PTR) names and dashed forms. */
import { isIPv4, isIPv6 } from "node:net";

/** 8 groups of 16 bits, or undefined when not an IPv6 address */
function ipv6Groups(ip: string): number[] | undefined {
  if (!isIPv6(ip)) return undefined;
  let s = ip.toLowerCase();
  const zone = s.indexOf("%");
  if (zone !== -1) s = s.slice(0, zone);
  // an embedded IPv4 tail (::ffff:1.2.3.4)
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split(".").map(Number);
    s = `${s.slice(0, -v4[1]!.length)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill("0");
  const groups = [...h, ...fill, ...t].map((g) => Number.parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

export type Family = 4 | 6;

export function ipFamily(ip: string): Family | undefined {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  return undefined;
}

/** one spelling per address: dotted quad for IPv4, RFC 5952 for IPv6; undefined if not an IP */
export function canonicalIP(ip: string): string | undefined {
  if (isIPv4(ip)) return ip.split(".").map(Number).join(".");
  const g = ipv6Groups(ip);
  if (!g) return undefined;
  // longest run of two or more zero groups becomes "::"
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best === -1) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** "10.0.0.1" → "1.0.0.10.in-addr.arpa"; IPv6 → 32 nibbles under ip6.arpa */
export function reverseName(ip: string): string | undefined {
  if (isIPv4(ip)) return `${ip.split(".").map(Number).reverse().join(".")}.in-addr.arpa`;
  const g = ipv6Groups(ip);
  if (!g) return undefined;
  const nibbles = g.map((x) => x.toString(16).padStart(4, "0")).join("");
  return `${nibbles.split("").reverse().join(".")}.ip6.arpa`;
}

/**
 * The address a full reverse name stands for (lowercase labels), or undefined for partial or
 * malformed names ("10.in-addr.arpa" is a zone cut, not an address).
 */
export function ipFromReverse(labels: string[]): string | undefined {
  const n = labels.length;
  if (n === 6 && labels[4] === "in-addr" && labels[5] === "arpa") {
    const octets = labels.slice(0, 4).reverse();
    if (!octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255)) return undefined;
    return octets.join(".");
  }
  if (n === 34 && labels[32] === "ip6" && labels[33] === "arpa") {
    const nib = labels.slice(0, 32);
    if (!nib.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = nib.reverse().join("");
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return canonicalIP(groups.join(":"));
  }
  return undefined;
}

/** "10.1.2.3" → "10-1-2-3"; "fd00::1" → "fd00--1" (the endpoint and pod name form) */
export function dashedIP(ip: string): string {
  return ip.replace(/[.:]/g, "-");
}

/** "10-1-2-3" → "10.1.2.3", "fd00--1" → "fd00::1"; undefined when it is not an address */
export function ipFromDashed(label: string): string | undefined {
  const v4 = label.replace(/-/g, ".");
  if (isIPv4(v4) && /^\d+-\d+-\d+-\d+$/.test(label)) return canonicalIP(v4);
  const v6 = label.replace(/-/g, ":");
  if (isIPv6(v6) && !v6.includes("%")) return canonicalIP(v6);
  return undefined;
}
