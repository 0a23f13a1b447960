// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder: the r2 trunk schema is written with its stack.

import { Type } from '@sinclair/typebox';
import type { TrunkKind } from './validate.ts';

export const r2Trunk: TrunkKind = {
  signalling: ['mfcr2'],
  schema: Type.Object({}),
  check: () => [],
  spansOf: () => [],
};
