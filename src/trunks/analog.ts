// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder: the analog trunk schema is written with its stack.

import { Type } from '@sinclair/typebox';
import type { TrunkKind } from './validate.ts';

export const analogTrunk: TrunkKind = {
  signalling: ['fxs_ls', 'fxs_ks', 'fxo_ls', 'fxo_ks'],
  schema: Type.Object({}),
  check: () => [],
  spansOf: () => [],
};
