// SPDX-License-Identifier: GPL-2.0-or-later
// Firmware versions (semantic versioning 2.0.0): parse and order them, so a downgrade can be refused.

/** A parsed version: `0.2.0-dev.7+g1234` is core [0, 2, 0], prerelease ['dev', 7], build 'g1234'. */
export interface Semver {
  major: number;
  minor: number;
  patch: number;
  /** Dot-separated prerelease identifiers; numeric ones as numbers. Empty for a release. */
  prerelease: (string | number)[];
  /** Build metadata after `+`; ignored when versions are ordered. */
  build: string;
}

const NUMBER = '0|[1-9]\\d*';
const IDENT = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER = new RegExp(
  `^(${NUMBER})\\.(${NUMBER})\\.(${NUMBER})(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?$`,
);

/** The pattern of a version string, for schemas (the same rule as parseSemver). */
export const SEMVER_PATTERN = SEMVER.source;

/** Parses `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`; undefined when `text` is not a version. */
export function parseSemver(text: string): Semver | undefined {
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  const nums = [m[1], m[2], m[3]].map(Number);
  if (!nums.every(Number.isSafeInteger)) return undefined;
  return {
    major: nums[0] ?? 0,
    minor: nums[1] ?? 0,
    patch: nums[2] ?? 0,
    prerelease:
      m[4] === undefined ? [] : m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
    build: m[5] ?? '',
  };
}

function compareIdent(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  // Numeric identifiers have lower precedence than alphanumeric ones.
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders two versions by semver precedence: -1 when `a` is older, 1 when newer, 0 when equal
 * (build metadata does not count). `0.2.0-dev.7 < 0.2.0-dev.12 < 0.2.0 < 0.10.0`.
 */
export function compareSemver(a: Semver, b: Semver): -1 | 0 | 1 {
  for (const k of ['major', 'minor', 'patch'] as const)
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  // A release is newer than any of its prereleases.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    if (a.prerelease.length === b.prerelease.length) return 0;
    return a.prerelease.length === 0 ? 1 : -1;
  }
  const n = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < n; i++) {
    const c = compareIdent(a.prerelease[i] as string | number, b.prerelease[i] as string | number);
    if (c !== 0) return c as -1 | 1;
  }
  return a.prerelease.length === b.prerelease.length
    ? 0
    : a.prerelease.length < b.prerelease.length
      ? -1
      : 1;
}
