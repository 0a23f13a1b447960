// SPDX-License-Identifier: GPL-2.0-or-later
// Module types for what esbuild bundles beside TypeScript: the style sheet.

declare module '*.css';
