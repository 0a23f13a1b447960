// SPDX-License-Identifier: GPL-2.0-or-later
// YAML export and import: a lossless round trip, a header, sections in order, errors with lines.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SECTIONS } from '../src/config/schema.ts';
import { configFromYaml, configToYaml, type YamlFieldError } from '../src/config/yaml.ts';
import { isSwitchboardError, type SwitchboardError } from '../src/core/errors.ts';
import { sampleConfig } from './helpers/config.ts';

function thrown(fn: () => unknown, code: string): SwitchboardError {
  try {
    fn();
  } catch (err) {
    assert.ok(isSwitchboardError(err), String(err));
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('config yaml', () => {
  it('reads back exactly the configuration it wrote', () => {
    const config = sampleConfig();
    assert.deepEqual(configFromYaml(configToYaml(config)), config);
  });

  it('keeps strings that look like numbers strings ("0202", "95588")', () => {
    const text = configToYaml(sampleConfig());
    assert.match(text, /number: "0202"/);
    assert.match(text, /called: "95588"/);
    assert.equal(configFromYaml(text).extensions?.[1]?.number, '0202');
  });

  it('writes a header with the revision, the date and how to import, then the sections in order', () => {
    const text = configToYaml(sampleConfig(), {
      revision: 12,
      exportedAt: '2025-05-01T08:00:00.000Z',
    });
    const header = text.slice(0, text.indexOf('\n\n'));
    assert.match(header, /^# Switchboard configuration of "Lab box"/);
    assert.match(header, /Revision 12, exported 2025-05-01T08:00:00\.000Z/);
    assert.match(header, /\/api\/config\/import/);
    const order = [...text.matchAll(/^([A-Za-z]+):/gm)].map((m) => m[1]);
    assert.deepEqual(order, SECTIONS);
  });

  it('names the line and column of a YAML syntax error', () => {
    const err = thrown(
      () => configFromYaml('system:\n  name: box\nspans: [\n  {span: 1\n'),
      'E_CONFIG_FILE',
    );
    assert.match(err.message, /^line \d+, column \d+: /);
    const d = err.details as { line: number; column: number };
    assert.ok(d.line >= 3, `line ${d.line}`);
  });

  it('refuses a key given twice, naming its line', () => {
    const err = thrown(() => configFromYaml('system:\n  name: a\n  name: b\n'), 'E_CONFIG_FILE');
    assert.equal((err.details as { line: number }).line, 3);
  });

  it('refuses an empty file rather than importing an empty switch', () => {
    thrown(() => configFromYaml('# nothing here\n'), 'E_CONFIG_FILE');
  });

  it('refuses a file of many aliases (a "billion laughs")', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    assert.match(thrown(() => configFromYaml(lines.join('\n')), 'E_CONFIG_FILE').message, /alias/);
  });

  it('names every wrong field with its path and line, and says to quote a number', () => {
    const text = configToYaml(sampleConfig())
      .replace('called: "95588"', 'called: 95588')
      .replace('timing: 2', 'timing: two');
    const err = thrown(() => configFromYaml(text), 'E_CONFIG_FIELD');
    const details = err.details as YamlFieldError[];
    const lineOf = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    assert.deepEqual(
      details.map((d) => [d.path, d.line]),
      [
        ['spans[1].timing', lineOf('timing: two')],
        ['routes.inbound[0].called', lineOf('called: 95588')],
      ],
    );
    assert.match(details[1]?.message ?? '', /quotes, "95588"/);
    assert.match(
      err.message,
      /^spans\[1\]\.timing \(line \d+\): must be an integer \(and 1 more\)$/,
    );
  });

  it('names the line of the item that lacks a required field', () => {
    const text = 'trunkGroups:\n  - name: g\n    hunt: sequential\n';
    const err = thrown(() => configFromYaml(text), 'E_CONFIG_FIELD');
    assert.deepEqual(err.details, [
      { path: 'trunkGroups[0].trunks', message: 'is required', line: 2 },
    ]);
  });

  it('applies the cross-checks of validateConfig (a route to an unknown extension)', () => {
    const config = sampleConfig();
    const dest = config.routes?.inbound?.[0]?.destination as { extension: string };
    dest.extension = '999';
    const err = thrown(() => configFromYaml(configToYaml(config)), 'E_CONFIG_FIELD');
    assert.equal(
      (err.details as YamlFieldError[])[0]?.path,
      'routes.inbound[0].destination.extension',
    );
  });
});
