/**
 * The controllers the controller-manager runs, by name. Each controller module registers
 * itself here; `--controllers` selects among them ("*" = all).
 */
import type { Controller } from "./types.js";

const CONTROLLERS: Controller[] = [];

export function registerController(c: Controller): void {
  if (CONTROLLERS.some((x) => x.name === c.name)) throw new Error(`controller ${c.name} registered twice`);
  CONTROLLERS.push(c);
}

export function allControllers(): readonly Controller[] {
  return CONTROLLERS;
}

/** "*" selects all; "-name" removes one; a plain name adds one (kube-controller-manager's --controllers) */
export function selectControllers(spec: string[]): Controller[] {
  const names = new Set<string>();
  for (const s of spec.length ? spec : ["*"]) {
    if (s === "*") for (const c of CONTROLLERS) names.add(c.name);
    else if (s.startsWith("-")) names.delete(s.slice(1));
    else {
      if (!CONTROLLERS.some((c) => c.name === s))
        throw new Error(`unknown controller "${s}" (known: ${CONTROLLERS.map((c) => c.name).join(", ")})`);
      names.add(s);
    }
  }
  return CONTROLLERS.filter((c) => names.has(c.name));
}
