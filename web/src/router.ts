// SPDX-License-Identifier: GPL-2.0-or-later
// Hash routing (#/trunks?x=1): every page has a link the browser can bookmark, the server serves one file.

import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** The page: `dashboard`, `trunks`... (`dashboard` for an empty hash). */
  page: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const page = (q < 0 ? h : h.slice(0, q)) || 'dashboard';
  return { page, params: new URLSearchParams(q < 0 ? '' : h.slice(q + 1)) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function go(page: string, params: Record<string, string | number> = {}): void {
  const q = new URLSearchParams(
    Object.entries(params).map(([k, v]) => [k, String(v)] as [string, string]),
  ).toString();
  location.hash = `#/${page}${q ? `?${q}` : ''}`;
}
