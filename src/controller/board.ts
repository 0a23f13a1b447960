// SPDX-License-Identifier: GPL-2.0-or-later
// What the line cards offer, read from DAHDI: the board view configuration checks and system.conf use.

import type { DahdiSpan } from '../native/addon.ts';
import type { BoardLayout, BoardSpan } from '../trunks/system-conf.ts';

/**
 * The spans DAHDI reports, with their channel numbers. DAHDI numbers channels on across the
 * spans in span order (as dahdi_scan's basechan shows), so a span's first channel is one more
 * than the channels of the spans before it.
 */
export function boardFromSpans(spans: readonly DahdiSpan[]): BoardLayout {
  const byNumber = new Map<number, BoardSpan>();
  let base = 1;
  for (const s of [...spans].sort((a, b) => a.span - b.span)) {
    const type: BoardSpan['type'] =
      s.type === 'analog' ? 'analog' : s.type === 'T1' || s.type === 'J1' ? 'T1' : 'E1';
    byNumber.set(s.span, { type, channels: s.totalchans, basechan: base });
    base += s.totalchans;
  }
  return { get: (span) => byNumber.get(span) };
}
