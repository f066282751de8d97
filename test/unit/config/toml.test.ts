import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parseTomlFile, withoutCommentLines } from '../../../shared/config/toml.ts';

describe('parseTomlFile skips whole-line comments before parsing', () => {
  it('empties comment lines and keeps every other line and the line count', () => {
    const text = '# head\n[containers]\n  # indented\nx = 1 # trailing stays\n#\n';
    const out = withoutCommentLines(text);
    expect(out).toBe('\n[containers]\n\nx = 1 # trailing stays\n\n');
    expect(out.split('\n').length).toBe(text.split('\n').length);
  });

  it('leaves a document with a multi-line string untouched (a # line may belong to the string)', () => {
    for (const q of ['"""', "'''"]) {
      const text = `s = ${q}\n# not a comment\n${q}\n`;
      expect(withoutCommentLines(text)).toBe(text);
      expect(parseTomlFile(text, 'f', 'x')).toEqual({ s: '# not a comment\n' });
    }
  });

  it('keeps a comment line holding a control character, so the parser still rejects it', () => {
    const text = 'a = 1\n# bad \u0001 char\n';
    expect(withoutCommentLines(text)).toBe(text);
    expect(() => parseTomlFile(text, '/etc/x.conf', 'containers.conf')).toThrow(/x\.conf:2/);
  });

  it('names the same line of a syntax error as the whole text would', () => {
    const text = '# one\n# two\n[containers]\nkey = \n';
    expect(() => parseTomlFile(text, '/etc/c.conf', 'containers.conf')).toThrow(/c\.conf:4/);
  });

  it('parses the system containers.conf to the same document as the full text', () => {
    let text: string;
    try {
      text = readFileSync('/usr/share/containers/containers.conf', 'utf8');
    } catch {
      text = '# only comments\n[engine]\n# runtime = "crun"\nruntime = "runc"\n';
    }
    expect(parseTomlFile(text, 'c', 'containers.conf')).toEqual(parse(text));
  });
});
