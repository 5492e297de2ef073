import { errors } from "../errors/error-codes.js";

export interface GraphNode {
  name: string;
  dependsOn: readonly string[];
}

export interface StepGraph {
  /** Step names in a dependency order (dependencies first, ties by name). */
  order: string[];
  dependencies: Map<string, string[]>;
  dependants: Map<string, string[]>;
}

/**
 * Checks the graph and orders it. Unknown `dependsOn` entries and cycles are errors that
 * name the steps involved.
 */
export function buildStepGraph(nodes: readonly GraphNode[]): StepGraph {
  const names = nodes.map((n) => n.name);
  const known = new Set(names);
  const dependencies = new Map<string, string[]>();
  const dependants = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const node of nodes) {
    const deps = [...new Set(node.dependsOn)].sort();
    for (const dep of deps) {
      if (!known.has(dep)) throw errors.stepUnknown(dep, node.name, names);
      dependants.get(dep)!.push(node.name);
    }
    dependencies.set(node.name, deps);
  }
  // Kahn's algorithm, always taking the alphabetically first ready step, so the order is stable.
  const remaining = new Map(names.map((n) => [n, dependencies.get(n)!.length]));
  const ready = names.filter((n) => remaining.get(n) === 0).sort();
  const order: string[] = [];
  while (ready.length > 0) {
    const next = ready.shift()!;
    order.push(next);
    for (const child of dependants.get(next)!) {
      const left = remaining.get(child)! - 1;
      remaining.set(child, left);
      if (left === 0) {
        ready.push(child);
        ready.sort();
      }
    }
  }
  if (order.length !== names.length) throw errors.stepCycle(findCycle(dependencies, new Set(order)));
  for (const list of dependants.values()) list.sort();
  return { order, dependencies, dependants };
}

function findCycle(dependencies: Map<string, string[]>, acyclic: Set<string>): string[] {
  const visiting: string[] = [];
  const done = new Set<string>();
  const visit = (name: string): string[] | undefined => {
    const at = visiting.indexOf(name);
    if (at >= 0) return [...visiting.slice(at), name];
    if (done.has(name) || acyclic.has(name)) return undefined;
    visiting.push(name);
    for (const dep of dependencies.get(name) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    visiting.pop();
    done.add(name);
    return undefined;
  };
  for (const name of [...dependencies.keys()].sort()) {
    const cycle = visit(name);
    if (cycle) return cycle.reverse();
  }
  return [];
}

/** Every step that (transitively) depends on one of `roots`. */
export function downstreamOf(graph: StepGraph, roots: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    for (const child of graph.dependants.get(stack.pop()!) ?? []) {
      if (!seen.has(child)) {
        seen.add(child);
        stack.push(child);
      }
    }
  }
  return seen;
}
