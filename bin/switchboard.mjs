#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// Launcher: lets Node.js load the TypeScript sources (tsx), then runs the command line.

import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
