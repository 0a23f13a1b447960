// SPDX-License-Identifier: GPL-2.0-or-later
// Contact list import: number normalisation, CSV (BOM, ; and tab, broken rows), XLSX built with exceljs, TXT, limits.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ExcelJS from 'exceljs';
import { importContacts, normaliseNumber, sniffDelimiter } from '../src/dialer/contacts.ts';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('number normalisation', () => {
  it('gives the dial string the switch sends from China', () => {
    const cases: [string, string][] = [
      ['13812345678', '13812345678'],
      ['+8613812345678', '13812345678'],
      ['86 13812345678', '13812345678'],
      ['0086 138 1234 5678', '13812345678'],
      ['138-1234-5678', '13812345678'],
      ['\uFF11\uFF13\uFF18\uFF11\uFF12\uFF13\uFF14\uFF15\uFF16\uFF17\uFF18', '13812345678'],
      ['(010) 6288-1234', '01062881234'],
      ['010-62881234', '01062881234'],
      ['+86 10 6288 1234', '01062881234'],
      ['0755 1234 5678', '075512345678'],
      ['+1 415 555 2671', '0014155552671'],
      ['+852 9123 4567', '0085291234567'],
    ];
    for (const [raw, want] of cases) assert.deepEqual(normaliseNumber(raw), { number: want }, raw);
  });

  it('gives E.164 when asked', () => {
    assert.deepEqual(normaliseNumber('(010) 6288-1234', { output: 'e164' }), {
      number: '+861062881234',
    });
    assert.deepEqual(normaliseNumber('13812345678', { output: 'e164' }), {
      number: '+8613812345678',
    });
  });

  it('reads numbers of another default region', () => {
    assert.deepEqual(normaliseNumber('020 7946 0958', { region: 'GB' }), {
      number: '02079460958',
    });
    assert.deepEqual(
      Object.hasOwn(normaliseNumber('13812345678', { region: 'GB' }), 'reason'),
      true,
    );
  });

  it('refuses what is not a number, saying why', () => {
    assert.deepEqual(normaliseNumber(''), { reason: 'is empty' });
    assert.match((normaliseNumber('call me') as { reason: string }).reason, /letters/);
    assert.match(
      (normaliseNumber('12345') as { reason: string }).reason,
      /not a valid number in CN/,
    );
    assert.match((normaliseNumber('1381234567') as { reason: string }).reason, /not a valid/);
    assert.match((normaliseNumber('123', { region: 'XX' }) as { reason: string }).reason, /XX/);
  });
});

describe('CSV import', () => {
  it('sniffs the delimiter from the header line', () => {
    assert.equal(sniffDelimiter('a,b,c\n1;2;3'), ',');
    assert.equal(sniffDelimiter('a;b;c\n'), ';');
    assert.equal(sniffDelimiter('a\tb\tc\n'), '\t');
    assert.equal(sniffDelimiter('"x;y",b,c\n'), ',', 'a delimiter inside quotes does not count');
  });

  it('imports a UTF-8 list with a BOM and ";", reporting broken rows, duplicates and invalid fields by row', async () => {
    const csv = [
      '\uFEFF姓名;电话;时区;回拨;账户',
      '张三;13812345678;;;A1',
      '李四;+86 138 1234 5678;;;A2', // duplicate of row 2
      '王五;(010) 6288-1234;Asia/Shanghai;2025-05-01 09:30;A3',
      '赵六;12345;;;A4', // invalid number
      '钱七;13912345678;;;A5;extra', // six columns
      '"多行',
      '名字";13712345678;Europe/London;;A7', // a quoted field over two lines: row 7
      '孙八;13612345678;Mars/Base;;A9', // unknown zone
      '周九;13512345678;;2025-02-30 10:00;A10', // no such date
      '',
      '吴十;13412345678;;2025-05-01T09:30:00Z;A12',
    ].join('\r\n');
    const { contacts, report } = await importContacts(bytes(csv), {
      format: 'csv',
      mapping: {
        number: '电话',
        name: '姓名',
        timezone: '时区',
        callbackAt: '回拨',
        vars: { account: 5 },
      },
      timezone: 'Asia/Shanghai',
    });
    assert.deepEqual(
      contacts.map((c) => [c.row, c.number, c.name, c.timezone, c.callbackAt, c.vars.account]),
      [
        [2, '13812345678', '张三', undefined, undefined, 'A1'],
        [4, '01062881234', '王五', 'Asia/Shanghai', Date.parse('2025-05-01T01:30:00Z'), 'A3'],
        [7, '13712345678', '多行\r\n名字', 'Europe/London', undefined, 'A7'],
        [12, '13412345678', '吴十', undefined, Date.parse('2025-05-01T09:30:00Z'), 'A12'],
      ],
    );
    assert.equal(report.rows, 9);
    assert.equal(report.imported, 4);
    assert.deepEqual(report.duplicates, [{ row: 3, number: '13812345678', firstRow: 2 }]);
    assert.deepEqual(
      report.invalid.map((i) => [i.row, i.field, i.value]),
      [
        [5, 'number', '12345'],
        [6, 'row', '钱七,13912345678,,,A5,extra'],
        [9, 'timezone', 'Mars/Base'],
        [10, 'callbackAt', '2025-02-30 10:00'],
      ],
    );
    assert.match(report.invalid[1]?.reason ?? '', /has 6 columns, the header has 5/);
  });

  it('reads tab-separated lists and lists without a header, by column position', async () => {
    const tab = await importContacts(bytes('Phone\tName\n13812345678\tAnn\n'), {
      format: 'csv',
      mapping: { number: 'phone', name: 'Name' },
    });
    assert.deepEqual(tab.contacts, [{ row: 2, number: '13812345678', name: 'Ann', vars: {} }]);
    const bare = await importContacts(bytes('Ann,13812345678\nBob,13912345678\n'), {
      format: 'csv',
      header: false,
      mapping: { number: 2, name: 1 },
    });
    assert.deepEqual(
      bare.contacts.map((c) => [c.row, c.number, c.name]),
      [
        [1, '13812345678', 'Ann'],
        [2, '13912345678', 'Bob'],
      ],
    );
  });

  it('reports a quote never closed and keeps the rows before it', async () => {
    const { contacts, report } = await importContacts(
      bytes('name,number\nAnn,13812345678\n"Bob,13912345678\nCy,13712345678\n'),
      { format: 'csv', mapping: { number: 'number' } },
    );
    assert.deepEqual(
      contacts.map((c) => c.number),
      ['13812345678'],
    );
    assert.equal(report.rows, 2);
    assert.deepEqual(
      report.invalid.map((i) => [i.row, i.field]),
      [[3, 'row']],
    );
    assert.match(report.invalid[0]?.reason ?? '', /never closed/);
  });

  it('refuses a wrong mapping, a GBK file and lists over the limits with their own codes', async () => {
    await assert.rejects(
      importContacts(bytes('Name,Tel\nAnn,13812345678\n'), {
        format: 'csv',
        mapping: { number: 'Phone' },
      }),
      {
        code: 'E_CONTACTS_MAPPING',
        message: /mapping\.number: the list has no column "Phone" \(its columns: "Name", "Tel"\)/,
      },
    );
    await assert.rejects(importContacts(bytes('a\n1\n'), { format: 'csv' }), {
      code: 'E_CONTACTS_MAPPING',
    });
    // "电话" in GBK.
    const gbk = Buffer.from([0xb5, 0xe7, 0xbb, 0xb0, 0x0a, 0x31, 0x0a]);
    await assert.rejects(importContacts(gbk, { format: 'csv', mapping: { number: 1 } }), {
      code: 'E_CONTACTS_FORMAT',
      message: /not UTF-8.*GBK/,
    });
    await assert.rejects(
      importContacts(bytes('n\n13812345678\n'), {
        format: 'csv',
        mapping: { number: 1 },
        maxBytes: 5,
      }),
      { code: 'E_CONTACTS_LIMIT', message: /bytes/ },
    );
    const many = `n\n${Array.from({ length: 11 }, (_, i) => `1381234${String(i).padStart(4, '0')}`).join('\n')}\n`;
    await assert.rejects(
      importContacts(bytes(many), { format: 'csv', mapping: { number: 1 }, maxRows: 10 }),
      { code: 'E_CONTACTS_LIMIT', message: /11 rows, more than the 10/ },
    );
    await assert.rejects(importContacts(bytes(''), { format: 'csv', mapping: { number: 1 } }), {
      code: 'E_CONTACTS_FORMAT',
      message: /empty/,
    });
  });
});

describe('XLSX import', () => {
  async function workbook(): Promise<Buffer> {
    const wb = new ExcelJS.Workbook();
    const notes = wb.addWorksheet('Notes');
    notes.addRow(['this sheet is not the list']);
    const ws = wb.addWorksheet('Customers');
    ws.addRow(['Name', 'Mobile', 'Zone', 'Call back', 'Amount']);
    // Numbers typed into Excel are numbers, not text; dates are dates.
    ws.addRow(['Ann', 13812345678, 'Asia/Shanghai', new Date(Date.UTC(2025, 4, 1, 9, 30)), 12.5]);
    ws.addRow([{ richText: [{ text: 'B' }, { text: 'ob' }] }, '+86 139 1234 5678', '', '', 3]);
    ws.addRow([]);
    ws.addRow(['Cy', 12345, '', '', 1]);
    ws.addRow(['Di', 8613812345678, '', '', 2]);
    return Buffer.from(await wb.xlsx.writeBuffer());
  }

  it('reads a named sheet: numbers stored as numbers, Excel dates as local time, rich text', async () => {
    const { contacts, report } = await importContacts(await workbook(), {
      format: 'xlsx',
      sheet: 'Customers',
      mapping: {
        number: 'Mobile',
        name: 'Name',
        timezone: 'Zone',
        callbackAt: 'Call back',
        vars: { amount: 'Amount' },
      },
    });
    assert.deepEqual(contacts, [
      {
        row: 2,
        number: '13812345678',
        name: 'Ann',
        timezone: 'Asia/Shanghai',
        callbackAt: Date.parse('2025-05-01T01:30:00Z'),
        vars: { amount: '12.5' },
      },
      { row: 3, number: '13912345678', name: 'Bob', vars: { amount: '3' } },
    ]);
    assert.deepEqual(
      report.invalid.map((i) => [i.row, i.field, i.value]),
      [[5, 'number', '12345']],
    );
    assert.deepEqual(report.duplicates, [{ row: 6, number: '13812345678', firstRow: 2 }]);
    assert.equal(report.rows, 4);
  });

  it('takes the first sheet by default and names the sheets it has when one is missing', async () => {
    const buf = await workbook();
    await assert.rejects(importContacts(buf, { format: 'xlsx', mapping: { number: 'Mobile' } }), {
      code: 'E_CONTACTS_MAPPING',
      message: /no column "Mobile"/,
    });
    await assert.rejects(
      importContacts(buf, { format: 'xlsx', sheet: 'Leads', mapping: { number: 1 } }),
      { code: 'E_CONTACTS_FORMAT', message: /no sheet "Leads" \(it has "Notes", "Customers"\)/ },
    );
    await assert.rejects(
      importContacts(bytes('not a zip'), { format: 'xlsx', mapping: { number: 1 } }),
      {
        code: 'E_CONTACTS_FORMAT',
        message: /not an XLSX workbook/,
      },
    );
  });
});

describe('TXT import', () => {
  it('reads one number a line, optionally with a name after a tab or comma', async () => {
    const txt =
      '13812345678\n\n13912345678\tBob\r\n13712345678, Cy\nnot a number\n+8613812345678\n';
    const { contacts, report } = await importContacts(bytes(txt), { format: 'txt' });
    assert.deepEqual(contacts, [
      { row: 1, number: '13812345678', vars: {} },
      { row: 3, number: '13912345678', name: 'Bob', vars: {} },
      { row: 4, number: '13712345678', name: 'Cy', vars: {} },
    ]);
    assert.equal(report.rows, 5);
    assert.deepEqual(
      report.invalid.map((i) => [i.row, i.field]),
      [[5, 'number']],
    );
    assert.deepEqual(report.duplicates, [{ row: 6, number: '13812345678', firstRow: 1 }]);
  });
});
