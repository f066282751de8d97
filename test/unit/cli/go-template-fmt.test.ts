// printf's verbs and flags as Go's fmt prints them (cases written from fmt's documented behaviour).
import { describe, expect, it } from 'vitest';
import { sprint, sprintf, sprintln } from '../../../shared/cli/go-template/fmt.ts';
import { GoFloat, goMap } from '../../../shared/cli/go-template/value.ts';

describe('fmt.Sprintf', () => {
  it.each<[string, unknown[], string]>([
    ['%s|%v|%q', ['a"b', 'x', 'a"b'], 'a"b|x|"a\\"b"'],
    ['%.5s', ['66139e89afcd'], '66139'],
    ['%5.3s|%-6s|%6s', ['abcdef', 'ab', 'ab'], '  abc|ab    |    ab'],
    ['%d|%+d|% d|%05d|%-5d|%.3d|%x|%X|%#x|%o|%#o|%O|%b', [42, 42, 42, -42, 42, 7, 255, 255, 255, 8, 8, 8, 5], '42|+42| 42|-0042|42   |007|ff|FF|0xff|10|010|0o10|101'],
    ['%c|%U|%#U|%q', [65, 0x1f600, 65, 65], "A|U+1F600|U+0041 'A'|'A'"],
    ['%f|%.2f|%8.3f|%-8.1f|%+.1f|%08.3f', [3.14159, 3.14159, 3.14159, 2.5, 2.5, -3.14159], '3.141590|3.14|   3.142|2.5     |+2.5|-003.142'],
    ['%e|%E|%.2e|%g|%g|%g|%G|%.3g|%g', [1234.5678, 1234.5678, 0.000123, 1234.5678, 0.00001, new GoFloat(1e21), 1e-7, 1234.5678, new GoFloat(100000)], '1.234568e+03|1.234568E+03|1.23e-04|1234.5678|1e-05|1e+21|1E-07|1.23e+03|100000'],
    ['%v|%v|%v|%v', [new GoFloat(1), 1000000.5, new GoFloat(1e6), 0.1], '1|1.0000005e+06|1e+06|0.1'],
    ['%t|%v|%5t', [true, false, true], 'true|false| true'],
    ['%x|% x|%X|%#x', ['hi', 'hi', 'hi', 'hi'], '6869|68 69|6869|0x6869'],
    ['%q|%+q|%#q|%#q', ['é\n', 'é', 'x', 'a`b'], '"é\\n"|"\\u00e9"|`x`|"a`b"'],
    ['%v|%s|%d', [['a', 'b'], ['a', 'b'], [1, 2]], '[a b]|[a b]|[1 2]'],
    ['%v|%+v', [goMap({ b: 1, a: 'x' }), { K: 'v', N: 2 }], 'map[a:x b:1]|{K:v N:2}'],
    ['%v|%d', [null, null], '<nil>|%!d(<nil>)'],
    ['%%|%d%%', [5], '%|5%'],
    ['%T|%T|%T|%T|%T', ['s', 1, 1.5, true, ['a']], 'string|int|float64|bool|[]string'],
    ['%*d|%-*d|%.*f', [5, 1, 4, 2, 2, 3.14159], '    1|2   |3.14'],
    ['%[2]d %[1]d', [1, 2], '2 1'],
    // rounding from the exact binary value, half to even, as strconv (checked against podman)
    ['%.1f %.1f %.1f %.1f', [0.25, 0.35, 2.5, -0.05], '0.2 0.3 2.5 -0.1'],
    ['%.2f %.0f %.0f %.0f', [1.005, new GoFloat(0.5), new GoFloat(1.5), new GoFloat(2.5)], '1.00 0 2 2'],
    ['%#.0e|%#.0f|%x|%X|%.1x', [5.5, new GoFloat(2.5), 3.5, 3.5, 3.5], '6.e+00|2.|0x1.cp+01|0X1.CP+01|0x1.cp+01'],
    ['%.3e|%.2e|%.0e', [2.0005, 1.125, 2.5], '2.001e+00|1.12e+00|2e+00'],
  ])('%s', (f, args, want) => {
    expect(sprintf(f, args)).toBe(want);
  });

  it.each<[string, unknown[], string]>([
    ['%d', ['x'], '%!d(string=x)'],
    ['%s', [1], '%!s(int=1)'],
    ['%f', [1], '%!f(int=1)'],
    ['%t', ['x'], '%!t(string=x)'],
    ['%s', [], '%!s(MISSING)'],
    ['%s', ['a', 2, 'b'], 'a%!(EXTRA int=2, string=b)'],
    ['%', [], '%!(NOVERB)'],
    ['%z', [1], '%!z(int=1)'],
    ['%[3]d', [1], '%!d(BADINDEX)'],
    ['%*d', ['x', 1], '%!(BADWIDTH)1'],
  ])('error form %s', (f, args, want) => {
    expect(sprintf(f, args)).toBe(want);
  });
});

describe('fmt.Sprint and Sprintln', () => {
  it('adds spaces only between non-string operands; Sprintln always', () => {
    expect(sprint([1, 2, 'a', 'b', 3, true])).toBe('1 2ab3 true');
    expect(sprintln(['a', 1, 'b'])).toBe('a 1 b\n');
  });
});
