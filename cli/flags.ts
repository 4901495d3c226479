/**
 * A small flag parser shared by every daemon: `--name value` and `--name=value`,
 * typed specs, defaults, and one clear line on bad input (the caller exits 2).
 */

export type FlagType = "string" | "int" | "bool" | "duration" | "list";

export interface FlagSpec {
  type: FlagType;
  default?: string | number | boolean | string[];
  help: string;
  /** validate and normalise; throw an Error with a short message when bad */
  check?: (value: FlagValue) => void;
}

export type FlagValue = string | number | boolean | string[] | undefined;
export type FlagSpecs = Record<string, FlagSpec>;
export type ParsedFlags<S extends FlagSpecs> = { [K in keyof S]: FlagValue };

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/** "30s", "1m30s", "500ms", "2h" → milliseconds; a bare number is seconds */
export function parseDuration(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = s;
  const part = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  if (!rest) throw new FlagError(`invalid duration "${s}"`);
  while (rest) {
    const m = part.exec(rest);
    if (!m) throw new FlagError(`invalid duration "${s}" (use e.g. 500ms, 30s, 1m30s)`);
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

function convert(name: string, spec: FlagSpec, raw: string): FlagValue {
  switch (spec.type) {
    case "string":
      return raw;
    case "int": {
      if (!/^-?\d+$/.test(raw))
        throw new FlagError(`invalid value "${raw}" for flag --${name}: not an integer`);
      return Number(raw);
    }
    case "bool":
      if (raw === "true" || raw === "") return true;
      if (raw === "false") return false;
      throw new FlagError(`invalid value "${raw}" for flag --${name}: must be true or false`);
    case "duration":
      try {
        return parseDuration(raw);
      } catch (e) {
        throw new FlagError(`invalid value "${raw}" for flag --${name}: ${(e as Error).message}`);
      }
    case "list":
      return raw
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean);
  }
}

export function parseFlags<S extends FlagSpecs>(argv: string[], specs: S): ParsedFlags<S> {
  const out: Record<string, FlagValue> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const d = spec.default;
    out[name] = spec.type === "duration" && typeof d === "string" ? parseDuration(d) : d;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new FlagError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw new FlagError(`unknown flag: --${name}`);
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else if (spec.type === "bool") raw = "true";
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new FlagError(`flag needs an argument: --${name}`);
      raw = next;
      i++;
    }
    const value = convert(name, spec, raw);
    if (spec.check) {
      try {
        spec.check(value);
      } catch (e) {
        throw new FlagError(`invalid value "${raw}" for flag --${name}: ${(e as Error).message}`);
      }
    }
    out[name] = value;
  }
  return out as ParsedFlags<S>;
}

export function usage(command: string, specs: FlagSpecs): string {
  const lines = [`Usage: kubeplane ${command} [flags]`, "", "Flags:"];
  for (const [name, spec] of Object.entries(specs)) {
    const def = spec.default === undefined ? "" : ` (default ${JSON.stringify(spec.default)})`;
    lines.push(`  --${name} ${spec.type === "bool" ? "" : spec.type}`.padEnd(40) + spec.help + def);
  }
  return lines.join("\n");
}
