// SPDX-License-Identifier: GPL-2.0-or-later
// Builds the web UI (web/src, Preact + TSX) into web/dist: hashed, minified assets, gzip copies, index.html.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** One file of the build with its size as sent (gzip, level 9). */
export interface BuiltFile {
  file: string;
  bytes: number;
  gzipBytes: number;
}

export interface WebBuild {
  outDir: string;
  files: BuiltFile[];
  js: { bytes: number; gzipBytes: number };
  css: { bytes: number; gzipBytes: number };
}

const preact = join(here, '..', 'node_modules', 'preact');
/** Preact's unminified sources (its dist files are minified). */
const preactSources = {
  preact: join(preact, 'src', 'index.js'),
  'preact/hooks': join(preact, 'hooks', 'src', 'index.js'),
  'preact/jsx-runtime': join(preact, 'jsx-runtime', 'src', 'index.js'),
};

/** The budget the UI's JavaScript must stay under, gzipped (200 kB): it ships in the firmware's flash. */
export const JS_BUDGET_GZIP_BYTES = 200_000;

/**
 * Builds into `outDir` (default web/dist), replacing what was there. The output depends only on
 * the sources and the locked esbuild/Preact versions (no dates, no absolute paths, names
 * hashed from content), so two builds of the same tree are byte for byte the same.
 */
export async function buildWeb(
  outDir = join(here, 'dist'),
  debug = process.env.WEB_DEBUG === '1',
): Promise<WebBuild> {
  // Built beside the target and swapped in, so a running controller never serves half a build.
  const tmp = `${outDir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'assets'), { recursive: true });
  const result = await build({
    absWorkingDir: here,
    entryPoints: { app: 'src/main.tsx' },
    bundle: true,
    minify: !debug,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: join(tmp, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    sourcemap: false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
    // WEB_DEBUG=1: readable output with Preact's own sources, for a stack trace worth reading.
    ...(debug ? { alias: preactSources } : {}),
  });
  const outputs = Object.keys(result.metafile.outputs)
    .map((f) => relative(join(tmp, 'assets'), join(here, f)))
    .sort();
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (!js || !css)
    throw new Error(`the web build made no script or no style sheet: ${outputs.join(', ')}`);
  const html = readFileSync(join(here, 'src', 'index.html'), 'utf8')
    .replace('{{script}}', `/assets/${js}`)
    .replace('{{style}}', `/assets/${css}`);
  writeFileSync(join(tmp, 'index.html'), html);
  const files: BuiltFile[] = [];
  for (const f of [...outputs.map((o) => join('assets', o)), 'index.html']) {
    const data = readFileSync(join(tmp, f));
    const gz = gzipSync(data, { level: 9 });
    writeFileSync(join(tmp, `${f}.gz`), gz);
    files.push({ file: f, bytes: data.length, gzipBytes: gz.length });
  }
  const sum = (ext: string) => {
    const of = files.filter((f) => f.file.endsWith(ext));
    return {
      bytes: of.reduce((n, f) => n + f.bytes, 0),
      gzipBytes: of.reduce((n, f) => n + f.gzipBytes, 0),
    };
  };
  const report: WebBuild = { outDir, files, js: sum('.js'), css: sum('.css') };
  writeFileSync(
    join(tmp, 'build.json'),
    `${JSON.stringify({ files, js: report.js, css: report.css }, null, 2)}\n`,
  );
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  return report;
}

if (process.argv[1] && basename(process.argv[1]) === basename(fileURLToPath(import.meta.url))) {
  const out = process.argv[2];
  const r = await buildWeb(out);
  const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
  console.log(
    `web: built ${relative(process.cwd(), r.outDir) || r.outDir}: JavaScript ${kb(r.js.bytes)} (${kb(r.js.gzipBytes)} gzipped, budget ${kb(JS_BUDGET_GZIP_BYTES)}), CSS ${kb(r.css.bytes)} (${kb(r.css.gzipBytes)} gzipped)`,
  );
  if (r.js.gzipBytes > JS_BUDGET_GZIP_BYTES) {
    console.error('web: the JavaScript is over its budget');
    process.exitCode = 1;
  }
}
