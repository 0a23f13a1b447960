// SPDX-License-Identifier: GPL-2.0-or-later
// Prompt names and language tags: the only strings that become paths inside the prompt directory.

import { join, relative, resolve, sep } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';

/**
 * A prompt name is a relative path of 1 to 4 segments (`welcome`, `digits/7`, `ivr/sales/menu`),
 * each starting with a letter or digit and holding only letters, digits, `_`, `-` and `.`.
 * That rules out `..`, hidden files (our temporary files start with a dot), absolute paths,
 * backslashes and control characters by construction, not by filtering.
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Most path segments in a prompt name. */
export const PROMPT_NAME_MAX_SEGMENTS = 4;
/** Longest prompt name, in characters. */
export const PROMPT_NAME_MAX_LENGTH = 200;

/** A language tag as used for prompt-set directories: `en`, `zh`, `en-us`, `zh-cn`... */
const LANG = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/;

function nameError(field: string, value: unknown, why: string): SwitchboardError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new SwitchboardError('E_PROMPT_NAME', `${field} ${shown} ${why}`, {
    details: { field, value },
  });
}

/**
 * Checks a prompt name and returns it without a trailing `.wav` (names never carry the
 * extension; the file is always `<name>.wav`, so `welcome` and `welcome.wav` are one prompt).
 */
export function promptName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || value.length === 0)
    throw nameError(field, value, 'is not a prompt name (a non-empty string such as digits/7)');
  if (value.length > PROMPT_NAME_MAX_LENGTH)
    throw nameError(field, value, `is longer than ${PROMPT_NAME_MAX_LENGTH} characters`);
  const name = value.replace(/\.wav$/i, '');
  const segments = name.split('/');
  if (segments.length > PROMPT_NAME_MAX_SEGMENTS)
    throw nameError(field, value, `has more than ${PROMPT_NAME_MAX_SEGMENTS} path segments`);
  for (const segment of segments) {
    if (!SEGMENT.test(segment))
      throw nameError(
        field,
        value,
        'is not a plain prompt name: each part must start with a letter or digit and hold only ' +
          'letters, digits, _ - . (no .., no leading /, no hidden files)',
      );
  }
  return name;
}

/** Checks a language tag (lower case) used as a prompt-set directory name. */
export function langTag(value: unknown, field = 'lang'): string {
  if (typeof value !== 'string' || !LANG.test(value))
    throw nameError(field, value, 'is not a language tag such as en, zh or en-us (lower case)');
  return value;
}

/**
 * The file of prompt `name` under `dir`. The name is already plain; the containment check is a
 * second guard so that a future change to the name rules cannot open a path traversal.
 */
export function promptFile(dir: string, name: string, field = 'name'): string {
  const root = resolve(dir);
  const file = join(root, `${name}.wav`);
  const rel = relative(root, file);
  if (rel.startsWith(`..${sep}`) || rel === '..' || resolve(root, rel) !== file)
    throw nameError(field, name, `leaves the prompt directory ${root}`);
  return file;
}
