// SPDX-License-Identifier: GPL-2.0-or-later
// Routing rules: trunk groups, inbound and outbound routes, black lists, time conditions, regions, extensions.

import type { PageProps } from '../app.tsx';
import { ConfigEditor } from '../config-editor.tsx';
import { roleAtLeast } from '../types.ts';
import { PageTitle } from '../ui.tsx';

export function RoutingPage({ me }: PageProps) {
  return (
    <>
      <PageTitle>Routing</PageTitle>
      <p>
        Inbound routes decide where a call from a trunk goes; outbound routes which trunk groups
        carry a call out. In both lists the first rule that matches wins: order them with Up and
        Down. Numbers are exact, or patterns starting with <code>_</code> (X any digit, Z 1-9, N
        2-9, [1-5] a range, a trailing <code>.</code> one or more digits).
      </p>
      <ConfigEditor
        canEdit={roleAtLeast(me.role, 'installer')}
        sections={[
          { path: 'routes.inbound', label: 'Inbound routes' },
          { path: 'routes.outbound', label: 'Outbound routes' },
          { path: 'trunkGroups', label: 'Trunk groups' },
          { path: 'blacklists', label: 'Black lists' },
          { path: 'timeConditions', label: 'Time conditions' },
          { path: 'regions', label: 'Caller regions' },
          { path: 'extensions', label: 'Extensions' },
        ]}
      />
    </>
  );
}
