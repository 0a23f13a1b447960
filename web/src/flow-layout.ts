// SPDX-License-Identifier: GPL-2.0-or-later
// A layered drawing of an IVR flow graph: layers by distance from the start node, order by barycentres.

/** The parts of a flow document the drawing reads. */
export interface FlowLike {
  start: string;
  nodes: Record<string, Record<string, unknown> & { type?: string; label?: string }>;
}

export interface FlowEdge {
  from: string;
  to: string;
  /** What takes it: `next` has none; `timeout`, `invalid`, `1` (a menu digit), `case 2`... */
  label: string;
  /** The target is no node of the flow (the check refuses such a flow; it is drawn anyway). */
  missing: boolean;
}

/** Node fields that name the next node, and the word their edge is labelled with. */
const EDGE_FIELDS: readonly [string, string][] = [
  ['next', ''],
  ['onTimeout', 'timeout'],
  ['onInvalid', 'invalid'],
  ['onError', 'error'],
  ['onFail', 'fail'],
  ['else', 'else'],
];

/** Every edge of the flow, in node order then field order. */
export function flowEdges(flow: FlowLike): FlowEdge[] {
  const out: FlowEdge[] = [];
  const add = (from: string, to: unknown, label: string) => {
    if (typeof to !== 'string' || to === '') return;
    out.push({ from, to, label, missing: !(to in flow.nodes) });
  };
  for (const [id, node] of Object.entries(flow.nodes)) {
    const choices = node.choices;
    if (choices && typeof choices === 'object')
      for (const [digit, to] of Object.entries(choices as Record<string, unknown>))
        add(id, to, `press ${digit}`);
    const cases = node.cases;
    if (Array.isArray(cases))
      cases.forEach((c, i) => {
        add(id, (c as { next?: unknown })?.next, `case ${i + 1}`);
      });
    for (const [field, label] of EDGE_FIELDS) add(id, node[field], label);
  }
  return out;
}

export interface PlacedNode {
  id: string;
  type: string;
  label?: string;
  layer: number;
  /** Top-left corner. */
  x: number;
  y: number;
  /** Not reachable from the start node. */
  unreachable: boolean;
}

export interface FlowLayout {
  nodes: PlacedNode[];
  edges: FlowEdge[];
  width: number;
  height: number;
  nodeWidth: number;
  nodeHeight: number;
}

export interface LayoutOptions {
  nodeWidth?: number;
  nodeHeight?: number;
  /** Space between layers and between nodes of a layer, px. */
  layerGap?: number;
  nodeGap?: number;
  /** Room on the right for edges that go back up, px. */
  margin?: number;
}

/**
 * Places the nodes: layer n holds the nodes n edges from the start (breadth first, so a menu
 * that loops back does not stretch the drawing); nodes the start does not reach go in layers
 * below. Within a layer nodes are ordered by the mean position of their parents above, a few
 * sweeps, which keeps most edges from crossing. Deterministic: the same flow gives the same
 * drawing.
 */
export function layoutFlow(flow: FlowLike, opts: LayoutOptions = {}): FlowLayout {
  const nodeWidth = opts.nodeWidth ?? 168;
  const nodeHeight = opts.nodeHeight ?? 52;
  const layerGap = opts.layerGap ?? 72;
  const nodeGap = opts.nodeGap ?? 28;
  const margin = opts.margin ?? 64;
  const edges = flowEdges(flow);
  const ids = Object.keys(flow.nodes);
  const succ = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) if (!e.missing) succ.get(e.from)?.push(e.to);

  // Breadth first from the start, then from each node not reached yet (in document order).
  const layer = new Map<string, number>();
  const order: string[] = [];
  const reached = new Set<string>();
  const bfs = (root: string, base: number) => {
    layer.set(root, base);
    order.push(root);
    const queue = [root];
    while (queue.length > 0) {
      const cur = queue.shift() as string;
      for (const next of succ.get(cur) ?? []) {
        if (layer.has(next)) continue;
        layer.set(next, (layer.get(cur) as number) + 1);
        order.push(next);
        queue.push(next);
      }
    }
  };
  if (flow.start in flow.nodes) bfs(flow.start, 0);
  for (const id of layer.keys()) reached.add(id);
  for (const id of ids) {
    if (layer.has(id)) continue;
    const deepest = Math.max(-1, ...layer.values());
    bfs(id, deepest + 1);
  }

  const layers: string[][] = [];
  for (const id of order) {
    const l = layer.get(id) as number;
    const row = layers[l] ?? [];
    row.push(id);
    layers[l] = row;
  }
  const pred = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges)
    if (!e.missing && (layer.get(e.to) as number) > (layer.get(e.from) as number))
      pred.get(e.to)?.push(e.from);
  const pos = new Map<string, number>();
  const index = () => {
    for (const row of layers) {
      if (!row) continue;
      for (let i = 0; i < row.length; i++) pos.set(row[i] as string, i - (row.length - 1) / 2);
    }
  };
  index();
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let l = 1; l < layers.length; l++) {
      const row = layers[l];
      if (!row) continue;
      const centre = new Map<string, number>();
      row.forEach((id, i) => {
        const ps = pred.get(id) ?? [];
        centre.set(
          id,
          ps.length === 0
            ? (pos.get(id) ?? i)
            : ps.reduce((sum, p) => sum + (pos.get(p) ?? 0), 0) / ps.length,
        );
      });
      // Stable: equal centres keep their order (the sort is stable in every engine we target).
      row.sort((a, b) => (centre.get(a) as number) - (centre.get(b) as number));
      index();
    }
  }

  const widest = Math.max(1, ...layers.map((l) => l?.length ?? 0));
  const innerWidth = widest * nodeWidth + (widest - 1) * nodeGap;
  const nodes: PlacedNode[] = [];
  layers.forEach((row, l) => {
    if (!row) return;
    const rowWidth = row.length * nodeWidth + (row.length - 1) * nodeGap;
    const left = (innerWidth - rowWidth) / 2 + nodeGap;
    row.forEach((id, i) => {
      const node = flow.nodes[id] ?? {};
      nodes.push({
        id,
        type: typeof node.type === 'string' ? node.type : '?',
        ...(typeof node.label === 'string' ? { label: node.label } : {}),
        layer: l,
        x: left + i * (nodeWidth + nodeGap),
        y: nodeGap + l * (nodeHeight + layerGap),
        unreachable: !reached.has(id),
      });
    });
  });
  return {
    nodes,
    edges,
    width: innerWidth + 2 * nodeGap + margin,
    height: nodeGap * 2 + layers.length * nodeHeight + Math.max(0, layers.length - 1) * layerGap,
    nodeWidth,
    nodeHeight,
  };
}
