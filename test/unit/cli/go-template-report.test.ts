// podman's report formatter: `{{range .}}` wrapping, the `table` directive's header row and tabwriter columns.
import { describe, expect, it } from 'vitest';
import { formatReport, goTimeString, goType, splitCamel, tableHeaders } from '../../../shared/cli/go-template.ts';
import { tabwrite } from '../../../shared/cli/go-template/tabwriter.ts';

const rows = [
  goType({ ID: '66139e89afcd', Names: 'c1', Image: 'localhost/busybox:latest', Mounts: [] as string[] }, 'containers.psReporter'),
  goType({ ID: '0123456789ab', Names: 'a-much-longer-name', Image: 'localhost/x:1', Mounts: ['/data'] }, 'containers.psReporter'),
];
const headers = tableHeaders(rows[0]!, { ID: 'CONTAINER ID' });

describe('formatReport', () => {
  it('plain formats: one line per row, a newline added only when missing, tabs left as they are', () => {
    expect(formatReport('{{.ID}} {{.Names}}', rows, { name: 'ps' })).toBe('66139e89afcd c1\n0123456789ab a-much-longer-name\n');
    expect(formatReport('{{.Names}}\\n', rows, { name: 'ps' })).toBe('c1\na-much-longer-name\n');
    expect(formatReport('{{.ID}}\\t{{.Names}}', rows.slice(0, 1), { name: 'ps' })).toBe('66139e89afcd\tc1\n');
  });

  it('table: headers from the field names, spaces and \\t become columns aligned as podman prints them', () => {
    expect(formatReport('table {{.ID}}\\t{{.Names}} {{.Image}}', rows, { name: 'ps', headers })).toBe(
      [
        'CONTAINER ID  NAMES               IMAGE',
        '66139e89afcd  c1                  localhost/busybox:latest',
        '0123456789ab  a-much-longer-name  localhost/x:1',
        '',
      ].join('\n'),
    );
    // two spaces make an empty column (12 wide); text after the last tab is never padded
    expect(formatReport('table {{.ID}}  {{.Names}}x{{.Image}}', rows.slice(0, 1), { name: 'ps', headers })).toBe(
      'CONTAINER ID              NAMESxIMAGE\n66139e89afcd              c1xlocalhost/busybox:latest\n',
    );
    expect(formatReport('table {{.ID}}', rows, { name: 'ps', headers, noHeading: true })).toBe('66139e89afcd\n0123456789ab\n');
    expect(formatReport('table {{.Mounts}} {{.ID}}', rows.slice(0, 1), { name: 'ps', headers })).toBe('MOUNTS      CONTAINER ID\n[]          66139e89afcd\n');
  });

  it('an empty format prints nothing (podman adds no newline to it)', () => {
    expect(formatReport('', rows, { name: 'ps' })).toBe('');
  });

  it('`table` alone is not the table directive (podman prints it literally)', () => {
    expect(formatReport('table', rows.slice(0, 1), { name: 'ps' })).toBe('table\n');
  });

  it("errors carry podman's positions: the format is wrapped in {{range .}}", () => {
    expect(() => formatReport('{{.Nope}}', rows, { name: 'ps' })).toThrow(
      'template: ps:1:13: executing "ps" at <.Nope>: can\'t evaluate field Nope in type containers.psReporter',
    );
    expect(() => formatReport('{{.ID', rows, { name: 'ps' })).toThrow("template: ps:1: bad character U+007B '{'");
    expect(() => formatReport('{{nope}}', rows, { name: 'ps' })).toThrow('template: ps:1: function "nope" not defined');
  });

  it('a header field missing from the header map renders <no value>, as podman`s', () => {
    const h = tableHeaders(rows[0]!, { Image: null });
    expect(formatReport('table {{.Names}}\\t{{.Image}}', rows.slice(0, 1), { name: 'images', headers: h }).split('\n')[0]).toBe('NAMES       <no value>');
  });
});

describe('splitCamel and tabwrite', () => {
  it.each([
    ['CreatedAt', 'Created At'],
    ['ID', 'ID'],
    ['ImageID', 'Image ID'],
    ['RunningFor', 'Running For'],
    ['HTTPServer', 'HTTP Server'],
    ['Names', 'Names'],
    ['PIDs2', 'PI Ds 2'], // as podman's camelcase package splits it
  ])('%s', (s, want) => {
    expect(splitCamel(s).join(' ')).toBe(want);
  });

  it('column blocks end where a line has fewer cells', () => {
    expect(tabwrite('a\tb\nlonger-than-twelve\tc\nnone\nx\ty\n')).toBe('a                   b\nlonger-than-twelve  c\nnone\nx           y\n');
  });
});

describe('goTimeString', () => {
  it.each([
    ['2026-12-07T00:27:59.479854773Z', '2026-12-07 00:27:59.479854773 +0000 UTC'],
    ['2026-12-07T00:27:59.470Z', '2026-12-07 00:27:59.47 +0000 UTC'],
    ['2026-12-07T00:27:59Z', '2026-12-07 00:27:59 +0000 UTC'],
    ['2026-12-07T02:27:59.5+02:00', '2026-12-07 00:27:59.5 +0000 UTC'],
    ['not a time', 'not a time'],
  ])('%s', (iso, want) => {
    expect(goTimeString(iso)).toBe(want);
  });
});
