import { describe, expect, it } from 'vitest';
import { expand, expandWord, expandWords } from '../../../shared/build/dockerfile/expand.ts';

const env = new Map([
  ['PWD', '/home'],
  ['SHELL', '/bin/bash'],
  ['FOO', 'foo'],
  ['E', ''],
  ['X', 'abcabc'],
  ['P', 'my/long/path.tar.gz'],
  ['SP', 'a b  c'],
]);

describe('expandWord: BuildKit lexer rules', () => {
  const cases: [string, string][] = [
    ['hello', 'hello'],
    ['he\\$PWD', 'he$PWD'],
    ['$PWD', '/home'],
    ['${PWD}', '/home'],
    ['x$PWD/y', 'x/home/y'],
    ['$NOTSET', ''],
    ['${NOTSET:-def}', 'def'],
    ['${E:-def}', 'def'],
    ['${E-def}', ''],
    ['${NOTSET-def}', 'def'],
    ['${FOO:+alt}', 'alt'],
    ['${E:+alt}', ''],
    ['${E+alt}', 'alt'],
    ['${NOTSET+alt}', ''],
    ['${FOO:-$PWD}', 'foo'],
    ['${NOTSET:-$PWD/x}', '/home/x'],
    ["'$PWD'", '$PWD'],
    ['"$PWD"', '/home'],
    ['"\\$PWD"', '$PWD'],
    ['"a\\b"', 'a\\b'],
    ['"a\\"b"', 'a"b'],
    ["'a\\b'", 'a\\b'],
    ['\\\\', '\\'],
    ['a\\ b', 'a b'],
    ['$', '$'],
    ['$/', '$/'],
    ['${X#a*}', 'bcabc'],
    ['${X##a*}', ''],
    ['${X%b*}', 'abca'],
    ['${X%%b*}', 'a'],
    ['${P##*/}', 'path.tar.gz'],
    ['${P%.*}', 'my/long/path.tar'],
    ['${P%%.*}', 'my/long/path'],
    ['${P#*/}', 'long/path.tar.gz'],
    ['${X/b/B}', 'aBcabc'],
    ['${X//b/B}', 'aBcaBc'],
    ['${X//b*c/Z}', 'aZ'],
    ['${X/?/_}', '_bcabc'],
    ['${P//\\//-}', 'my-long-path.tar.gz'],
    ['${X#\\*}', 'abcabc'],
    ['${NOTSET:?}x', 'ERR'],
    ['${FOO:?msg}', 'foo'],
    ['$1', ''],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => {
      if (want === 'ERR') expect(() => expandWord(input, env)).toThrow(/NOTSET: is not allowed to be unset/);
      else expect(expandWord(input, env)).toBe(want);
    });
  }

  it('error messages for bad syntax', () => {
    expect(() => expandWord('${', env)).toThrow(/missing '}'/);
    expect(() => expandWord('${}', env)).toThrow(/bad substitution/);
    expect(() => expandWord('${:x}', env)).toThrow(/bad substitution/);
    expect(() => expandWord('${FOO', env)).toThrow(/missing '}'/);
    expect(() => expandWord('${FOO:-x', env)).toThrow(/missing '}'/);
    expect(() => expandWord('${FOO*x}', env)).toThrow(/unsupported modifier/);
    expect(() => expandWord('"abc', env)).toThrow(/double-quote/);
    expect(() => expandWord("'abc", env)).toThrow(/single-quote/);
    expect(() => expandWord('${E:?must be set}', env)).toThrow(/E: must be set/);
    expect(() => expandWord('${E:?}', env)).toThrow(/E: is not allowed to be empty/);
    expect(expandWord('${E?}', env)).toBe('');
  });

  it('backtick escape character', () => {
    expect(expandWord('a`$FOO', env, { escape: '`' })).toBe('a$FOO');
    expect(expandWord('c:\\dir\\$FOO', env, { escape: '`' })).toBe('c:\\dir\\foo');
    expect(expandWord('"`"x"', env, { escape: '`' })).toBe('"x');
  });

  it('word splitting: unquoted expansion splits, quoted text does not', () => {
    expect(expandWords('$SP', env)).toEqual(['a', 'b', 'c']);
    expect(expandWords('"$SP"', env)).toEqual(['a b  c']);
    expect(expandWords('x "y z" $FOO', env)).toEqual(['x', 'y z', 'foo']);
    expect(expandWords("'a b'c", env)).toEqual(['a bc']);
    expect(expandWord('$SP', env)).toBe('a b  c');
  });

  it('reports matched and unmatched variables', () => {
    const r = expand('$FOO ${NOPE:-x}', env);
    expect([...r.matched]).toEqual(['FOO']);
    expect([...r.unmatched]).toEqual(['NOPE']);
  });
});
