// SPDX-License-Identifier: GPL-2.0-or-later
// What the line cards offer, read from DAHDI: the board view configuration checks run against.

import type { DahdiSpan } from '../native/addon.ts';
import type { BoardSpans } from '../trunks/validate.ts';

/** The spans DAHDI reports, as the configuration checks want them (span number -> type, size). */
export function boardFromSpans(spans: readonly DahdiSpan[]): BoardSpans {
  const byNumber = new Map(
    spans.map((s) => {
      const type: 'E1' | 'T1' | 'analog' =
        s.type === 'analog' ? 'analog' : s.type === 'T1' || s.type === 'J1' ? 'T1' : 'E1';
      return [s.span, { type, channels: s.totalchans }] as const;
    }),
  );
  return { get: (span) => byNumber.get(span) };
}
