// SPDX-License-Identifier: GPL-2.0-or-later
// Answering-machine detection parameters (Asterisk app_amd's): default, unit, range and meaning of each.

import type { FieldError } from '../core/schema.ts';

export type AmdParamName =
  | 'initialSilence'
  | 'greeting'
  | 'afterGreetingSilence'
  | 'totalAnalysisTime'
  | 'minimumWordLength'
  | 'betweenWordsSilence'
  | 'maximumNumberOfWords'
  | 'maximumWordLength'
  | 'silenceThreshold';

export interface AmdParamSpec {
  /** Default in the unit below. */
  default: number;
  min: number;
  max: number;
  /** `amplitude`: mean absolute linear sample value of a 20 ms block. */
  unit: 'ms' | 'count' | 'amplitude';
  /** One line: what the parameter decides. */
  meaning: string;
}

/**
 * The parameters of native/src/dsp.h AmdParams, in the order the addon's amdParams() reports
 * them (test/dsp-tones.test.ts checks that the two tables agree). The verdict is one of human,
 * machine, notsure; its cause names the rule that decided.
 */
export const AMD_PARAMS: Readonly<Record<AmdParamName, AmdParamSpec>> = {
  initialSilence: {
    default: 2500,
    min: 300,
    max: 10000,
    unit: 'ms',
    meaning: 'no speech for this long after the answer -> machine (INITIALSILENCE)',
  },
  greeting: {
    default: 1500,
    min: 500,
    max: 10000,
    unit: 'ms',
    meaning: 'talking longer than this in all -> machine (LONGGREETING)',
  },
  afterGreetingSilence: {
    default: 800,
    min: 100,
    max: 5000,
    unit: 'ms',
    meaning: 'this much silence after the greeting -> human (HUMAN)',
  },
  totalAnalysisTime: {
    default: 5000,
    min: 1000,
    max: 30000,
    unit: 'ms',
    meaning: 'no verdict by then -> notsure (TOOLONG)',
  },
  minimumWordLength: {
    default: 100,
    min: 20,
    max: 1000,
    unit: 'ms',
    meaning: 'shorter bursts of sound are noise, not words',
  },
  betweenWordsSilence: {
    default: 50,
    min: 20,
    max: 1000,
    unit: 'ms',
    meaning: 'silence that separates two words',
  },
  maximumNumberOfWords: {
    default: 3,
    min: 1,
    max: 20,
    unit: 'count',
    meaning: 'this many words -> machine (MAXWORDS)',
  },
  maximumWordLength: {
    default: 5000,
    min: 500,
    max: 30000,
    unit: 'ms',
    meaning: 'one word longer than this -> machine (MAXWORDLENGTH)',
  },
  silenceThreshold: {
    default: 256,
    min: 1,
    max: 32767,
    unit: 'amplitude',
    meaning: 'mean absolute linear amplitude below which a 20 ms block is silence',
  },
};

const NAMES = Object.keys(AMD_PARAMS) as AmdParamName[];

/**
 * The errors of an `amd` option (true, false or an object of parameters), one per field, named
 * by path (`amd.greeting`): not a mapping, unknown names, non-integers, values out of range.
 */
export function amdParamErrors(amd: unknown, path = 'amd'): FieldError[] {
  if (amd === undefined || typeof amd === 'boolean') return [];
  if (typeof amd !== 'object' || amd === null || Array.isArray(amd))
    return [{ path, message: 'must be true, false or a mapping of AMD parameters' }];
  const out: FieldError[] = [];
  for (const [name, value] of Object.entries(amd)) {
    const spec = AMD_PARAMS[name as AmdParamName];
    if (!spec) {
      out.push({
        path: `${path}.${name}`,
        message: `is not an AMD parameter (known: ${NAMES.join(', ')})`,
      });
    } else if (typeof value !== 'number' || !Number.isInteger(value)) {
      out.push({ path: `${path}.${name}`, message: 'must be an integer' });
    } else if (value < spec.min || value > spec.max) {
      out.push({
        path: `${path}.${name}`,
        message: `${value} ${spec.unit} is outside ${spec.min}..${spec.max} ${spec.unit} (${spec.meaning})`,
      });
    }
  }
  return out;
}
