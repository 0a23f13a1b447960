// SPDX-License-Identifier: GPL-2.0-or-later
// The SVG drawing of an IVR flow (layout from flow-layout.ts), with the same graph as a list for screen readers.

import { type FlowLike, layoutFlow, type PlacedNode } from './flow-layout.ts';
import { useFieldId } from './ui.tsx';

function cubicMid(
  p0: [number, number],
  p1: [number, number],
  p2: [number, number],
  p3: [number, number],
): [number, number] {
  // B(0.5) = (p0 + 3 p1 + 3 p2 + p3) / 8
  return [(p0[0] + 3 * p1[0] + 3 * p2[0] + p3[0]) / 8, (p0[1] + 3 * p1[1] + 3 * p2[1] + p3[1]) / 8];
}

export function FlowGraph({ flow, title }: { flow: FlowLike; title: string }) {
  const id = useFieldId('flow');
  const g = layoutFlow(flow);
  // Room under the last layer for the arcs that join nodes of one layer.
  const height = g.height + 40;
  const at = new Map<string, PlacedNode>(g.nodes.map((n) => [n.id, n]));
  const w = g.nodeWidth;
  const h = g.nodeHeight;
  // Two fields that lead to the same node (a menu's invalid and timeout) make one edge, both named.
  const merged = new Map<string, (typeof g.edges)[number]>();
  for (const e of g.edges) {
    const key = `${e.from}\u0000${e.to}`;
    const seen = merged.get(key);
    if (!seen) merged.set(key, { ...e });
    else seen.label = [seen.label || 'next', e.label || 'next'].join(', ');
  }
  let loop = 0;
  const edges = [...merged.values()].map((e) => {
    const a = at.get(e.from) as PlacedNode;
    const b = at.get(e.to);
    let d: string;
    let mid: [number, number];
    if (!b) {
      const p0: [number, number] = [a.x + w / 2, a.y + h];
      const p3: [number, number] = [a.x + w / 2 + 20, a.y + h + 40];
      d = `M${p0[0]},${p0[1]} L${p3[0]},${p3[1]}`;
      mid = [p3[0], p3[1] + 12];
    } else if (b.layer > a.layer) {
      const p0: [number, number] = [a.x + w / 2, a.y + h];
      const p3: [number, number] = [b.x + w / 2, b.y];
      const dy = (p3[1] - p0[1]) / 2;
      const p1: [number, number] = [p0[0], p0[1] + dy];
      const p2: [number, number] = [p3[0], p3[1] - dy];
      d = `M${p0[0]},${p0[1]} C${p1[0]},${p1[1]} ${p2[0]},${p2[1]} ${p3[0]},${p3[1]}`;
      mid = cubicMid(p0, p1, p2, p3);
    } else if (b.layer === a.layer && b.id !== a.id) {
      // Along the layer: an arc under the nodes, from one bottom edge to the other.
      const p0: [number, number] = [a.x + w / 2 + (b.x > a.x ? 12 : -12), a.y + h];
      const p3: [number, number] = [b.x + w / 2 + (b.x > a.x ? -12 : 12), b.y + h];
      const dip = 26 + Math.min(30, Math.abs(p3[0] - p0[0]) / 8);
      const p1: [number, number] = [p0[0], p0[1] + dip];
      const p2: [number, number] = [p3[0], p3[1] + dip];
      d = `M${p0[0]},${p0[1]} C${p1[0]},${p1[1]} ${p2[0]},${p2[1]} ${p3[0]},${p3[1]}`;
      mid = cubicMid(p0, p1, p2, p3);
    } else {
      // Back up (a loop, or to itself): out of the right side, round the right of both nodes.
      loop++;
      const right = Math.max(a.x, b.x) + w + 18 + (loop % 4) * 10;
      const p0: [number, number] = [a.x + w, a.y + h / 2 + 6];
      const p3: [number, number] = [b.x + w, b.y + h / 2 - 6];
      const p1: [number, number] = [right, p0[1]];
      const p2: [number, number] = [right, p3[1]];
      d = `M${p0[0]},${p0[1]} C${p1[0]},${p1[1]} ${p2[0]},${p2[1]} ${p3[0]},${p3[1]}`;
      mid = cubicMid(p0, p1, p2, p3);
    }
    return (
      <g key={`${e.from}-${e.to}`} class={`edge${e.missing ? ' missing' : ''}`}>
        <path d={d} marker-end={`url(#${id}-arrow)`} />
        {(e.label || e.missing) && (
          <text x={mid[0] + 4} y={mid[1]} class="edge-label">
            {e.missing ? `${e.label ? `${e.label} ` : ''}→ ${e.to}?` : e.label}
          </text>
        )}
      </g>
    );
  });
  return (
    <figure class="flow-graph">
      <div class="graph-scroll">
        <svg
          role="img"
          aria-labelledby={`${id}-cap`}
          viewBox={`0 0 ${g.width} ${height}`}
          width={g.width}
          height={height}
        >
          <title>{title}</title>
          <defs>
            <marker
              id={`${id}-arrow`}
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="8"
              markerHeight="8"
              orient="auto-start-reverse"
            >
              <path d="M0,0 L10,5 L0,10 z" class="arrow" />
            </marker>
          </defs>
          {edges}
          {g.nodes.map((n) => (
            <g
              key={n.id}
              class={`node type-${n.type}${n.id === flow.start ? ' start' : ''}${n.unreachable ? ' unreachable' : ''}`}
              transform={`translate(${n.x},${n.y})`}
            >
              <rect width={w} height={h} rx="6" />
              <text x={w / 2} y={20} class="node-id">
                {n.id.length > 20 ? `${n.id.slice(0, 19)}…` : n.id}
              </text>
              <text x={w / 2} y={38} class="node-type">
                {n.id === flow.start ? `start · ${n.type}` : n.type}
                {n.unreachable ? ' · unreached' : ''}
              </text>
            </g>
          ))}
        </svg>
      </div>
      <figcaption id={`${id}-cap`}>
        {title}: {g.nodes.length} nodes, {g.edges.length} edges, starting at {flow.start}
      </figcaption>
      <details>
        <summary>The flow as a list</summary>
        <ul class="flow-list">
          {g.nodes.map((n) => (
            <li key={n.id}>
              <strong>{n.id}</strong> ({n.type}
              {n.id === flow.start ? ', start' : ''}
              {n.unreachable ? ', not reached from the start' : ''})
              {g.edges.filter((e) => e.from === n.id).length > 0 && ': '}
              {g.edges
                .filter((e) => e.from === n.id)
                .map(
                  (e) => `${e.label ? `${e.label} ` : ''}→ ${e.to}${e.missing ? ' (missing)' : ''}`,
                )
                .join(', ')}
            </li>
          ))}
        </ul>
      </details>
    </figure>
  );
}
