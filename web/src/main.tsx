// SPDX-License-Identifier: GPL-2.0-or-later
// Entry point of the web UI bundle: the style sheet and the application, rendered into #app.

import { render } from 'preact';
import { App } from './app.tsx';
import './style.css';

const root = document.getElementById('app');
if (root) render(<App />, root);
