// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder: the ss7 trunk schema is written with its stack.

import { Type } from '@sinclair/typebox';
import type { TrunkKind } from './validate.ts';

export const ss7Trunk: TrunkKind = {
  signalling: ['ss7'],
  schema: Type.Object({}),
  check: () => [],
  spansOf: () => [],
};
