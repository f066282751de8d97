import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../../shared/build/dockerfile/parse.ts';
import type { Instruction, InstructionOf } from '../../../shared/build/dockerfile/parse.ts';

const one = (text: string): Instruction => parseDockerfile(`FROM scratch\n${text}\n`).stages[0]!.instructions[0]!;

describe('parseDockerfile', () => {
  it('directives: escape, syntax and check (notices)', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM scratch\nRUN echo a `\n  b\n');
    expect(df.escape).toBe('`');
    expect(df.notices.join('\n')).toMatch(/"syntax" directive/);
    expect(df.notices.join('\n')).toMatch(/"check" directive/);
    const run = df.stages[0]!.instructions[0] as InstructionOf<'RUN'>;
    expect(run.cmd).toEqual({ form: 'shell', command: 'echo a   b' });
  });

  it('invalid escape directive is an error with its line', () => {
    expect(() => parseDockerfile('# escape=x\nFROM scratch\n')).toThrow(/Dockerfile:1:1: invalid escape token/);
  });

  it('line continuations with comments and blank lines inside', () => {
    const run = one('RUN echo a \\\n# comment\n  && echo b \\\n\n  && echo c') as InstructionOf<'RUN'>;
    expect(run.cmd).toEqual({ form: 'shell', command: 'echo a   && echo b   && echo c' });
    expect(run.loc).toMatchObject({ line: 2, column: 1, endLine: 6 });
  });

  it('a continuation is the escape character last on the line, blanks and tabs after it allowed', () => {
    const cmd = (text: string, pre = '') => (parseDockerfile(`${pre}FROM scratch\n${text}\n`).stages[0]!.instructions[0] as InstructionOf<'RUN'>).cmd;
    expect(cmd('RUN a \\ \t \n b')).toEqual({ form: 'shell', command: 'a  b' });
    expect(cmd('RUN a\\\\\n b')).toEqual({ form: 'shell', command: 'a\\ b' }); // the last of two escapes continues
    expect(cmd('RUN a \\x\nRUN b')).toEqual({ form: 'shell', command: 'a \\x' }); // not last: no continuation
    expect(cmd('RUN a `\t\n b', '# escape=`\n')).toEqual({ form: 'shell', command: 'a  b' });
    expect(cmd('RUN a \\\nRUN b', '# escape=`\n')).toEqual({ form: 'shell', command: 'a \\' });
    expect(cmd('RUN a \\')).toEqual({ form: 'shell', command: 'a' }); // a continuation on the last line ends it
  });

  it('JSON vs shell form; invalid JSON falls back to shell form', () => {
    expect((one('CMD ["a", "b c"]') as InstructionOf<'CMD'>).cmd).toEqual({ form: 'exec', args: ['a', 'b c'] });
    expect((one('CMD ["a", "b"') as InstructionOf<'CMD'>).cmd).toEqual({ form: 'shell', command: '["a", "b"' });
    expect((one("ENTRYPOINT ['a']") as InstructionOf<'ENTRYPOINT'>).cmd).toEqual({ form: 'shell', command: "['a']" });
    expect((one('CMD [1, 2]') as InstructionOf<'CMD'>).cmd.form).toBe('shell');
  });

  it('heredocs: <<EOF, <<-EOF, quoted delimiters, several per line, shebang', () => {
    const df = parseDockerfile(
      [
        'FROM scratch',
        'RUN <<EOF',
        '#!/usr/bin/env python3',
        'print("hi")',
        'EOF',
        'RUN <<-"A" cat - 3<<B > /out',
        '\t\tindented $X',
        '\tA',
        'b body',
        'B',
        "COPY <<'f1' <<f2 /dest/",
        '$LITERAL',
        'f1',
        '$EXPANDED',
        'f2',
        'ENV after=1',
      ].join('\n'),
    );
    const list = df.stages[0]!.instructions;
    const r1 = list[0] as InstructionOf<'RUN'>;
    const r2 = list[1] as InstructionOf<'RUN'>;
    const c = list[2] as InstructionOf<'COPY'>;
    const e = list[3] as InstructionOf<'ENV'>;
    expect(r1.heredocs).toEqual([{ name: 'EOF', body: '#!/usr/bin/env python3\nprint("hi")\n', expand: true, chomp: false }]);
    expect(r2.heredocs[0]).toEqual({ name: 'A', body: 'indented $X\n', expand: false, chomp: true });
    expect(r2.heredocs[1]).toEqual({ name: 'B', body: 'b body\n', expand: true, chomp: false, fd: 3 });
    expect(c.sources).toEqual(["<<'f1'", '<<f2']);
    expect(c.dest).toBe('/dest/');
    expect(c.heredocs.map((h) => [h.name, h.body, h.expand])).toEqual([['f1', '$LITERAL\n', false], ['f2', '$EXPANDED\n', true]]);
    expect(e.kind).toBe('ENV');
    expect(e.loc.line).toBe(16);
  });

  it('unterminated heredoc names its line', () => {
    expect(() => parseDockerfile('FROM scratch\nRUN <<EOF\necho\n')).toThrow(/Dockerfile:2:1: unterminated heredoc/);
  });

  it('stages: AS name (case-insensitive), --platform, duplicates', () => {
    const df = parseDockerfile('ARG V=1\nFROM --platform=$BUILDPLATFORM alpine:$V AS Build\nRUN true\nfrom build as Final\n');
    expect(df.globalArgs[0]!.args).toEqual([{ name: 'V', value: '1' }]);
    expect(df.stages.map((s) => s.name)).toEqual(['build', 'final']);
    expect(df.stages[0]!.from.flags).toEqual([{ name: 'platform', value: '$BUILDPLATFORM' }]);
    expect(df.stages[0]!.from.image).toBe('alpine:$V');
    expect(() => parseDockerfile('FROM a AS x\nFROM b AS X\n')).toThrow(/Dockerfile:2:1: duplicate stage name "x"/);
    expect(() => parseDockerfile('FROM a AS 1x\n')).toThrow(/invalid name for build stage/);
    expect(() => parseDockerfile('FROM a b\n')).toThrow(/FROM requires either one or three arguments/);
  });

  it('errors name line and column', () => {
    expect(() => parseDockerfile('FROM scratch\n  FOO bar\n', { filename: 'Containerfile' })).toThrow(/^Containerfile:2:3: unknown instruction: FOO/);
    expect(() => parseDockerfile('RUN x\nFROM scratch\n')).toThrow(/Dockerfile:1:1: RUN before the first FROM/);
    expect(() => parseDockerfile('# just a comment\n')).toThrow(/no FROM/);
    expect(() => parseDockerfile('FROM scratch\nCOPY --nope=1 a b\n')).toThrow(/Dockerfile:2:1: unknown flag: --nope/);
    expect(() => parseDockerfile('FROM scratch\nCOPY a\n')).toThrow(/Dockerfile:2:1: COPY requires at least two arguments/);
    expect(() => parseDockerfile('FROM scratch\nSHELL /bin/sh -c\n')).toThrow(/SHELL requires the arguments to be in JSON form/);
    expect(() => parseDockerfile('FROM scratch\nCOPY --chown=a --chown=b x y\n')).toThrow(/duplicate flag/);
    expect(() => parseDockerfile('FROM scratch\nONBUILD ONBUILD RUN x\n')).toThrow(/ONBUILD ONBUILD/);
    expect(() => parseDockerfile('FROM scratch\nENV a=1 b\n')).toThrow(/can't find = in "b"/);
  });

  it('every instruction parses into its model', () => {
    const df = parseDockerfile(
      [
        'FROM scratch',
        'ENV A=1 B="x y" C=${A}',
        'ENV LEGACY some value here',
        'LABEL "com.x"="v 1" b=2',
        'ARG X Y=2',
        'EXPOSE 80 53/udp',
        'VOLUME ["/a", "/b"]',
        'VOLUME /c /d',
        'USER app:app',
        'WORKDIR /srv',
        'COPY --from=build --chown=1:2 --chmod=u+x --link --parents --exclude=*.md --exclude=x a b /dst/',
        'ADD --checksum=sha256:' + '0'.repeat(64) + ' --keep-git-dir https://example.invalid/x /x',
        'STOPSIGNAL SIGKILL',
        'HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/',
        'HEALTHCHECK NONE',
        'ONBUILD RUN echo child',
        'MAINTAINER Jane <j@x>',
        'SHELL ["/bin/bash", "-c"]',
        'RUN --mount=type=cache,target=/c --network=none make',
        'CMD echo hi',
        'ENTRYPOINT ["/bin/app"]',
      ].join('\n'),
    );
    const ins = df.stages[0]!.instructions;
    expect(ins.map((i) => i.kind)).toEqual(['ENV', 'ENV', 'LABEL', 'ARG', 'EXPOSE', 'VOLUME', 'VOLUME', 'USER', 'WORKDIR', 'COPY', 'ADD', 'STOPSIGNAL', 'HEALTHCHECK', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER', 'SHELL', 'RUN', 'CMD', 'ENTRYPOINT']);
    expect((ins[0] as InstructionOf<'ENV'>).pairs).toEqual([{ key: 'A', value: '1' }, { key: 'B', value: '"x y"' }, { key: 'C', value: '${A}' }]);
    expect((ins[1] as InstructionOf<'ENV'>).pairs).toEqual([{ key: 'LEGACY', value: 'some value here' }]);
    expect((ins[2] as InstructionOf<'LABEL'>).pairs).toEqual([{ key: '"com.x"', value: '"v 1"' }, { key: 'b', value: '2' }]);
    expect((ins[3] as InstructionOf<'ARG'>).args).toEqual([{ name: 'X' }, { name: 'Y', value: '2' }]);
    expect((ins[5] as InstructionOf<'VOLUME'>).paths).toEqual(['/a', '/b']);
    expect((ins[6] as InstructionOf<'VOLUME'>).paths).toEqual(['/c', '/d']);
    const copy = ins[9] as InstructionOf<'COPY'>;
    expect(copy.flags.map((f) => f.name)).toEqual(['from', 'chown', 'chmod', 'link', 'parents', 'exclude', 'exclude']);
    expect(copy.sources).toEqual(['a', 'b']);
    const hc = ins[12] as InstructionOf<'HEALTHCHECK'>;
    expect(hc.cmd).toEqual({ form: 'shell', command: 'curl -f http://localhost/' });
    expect((ins[13] as InstructionOf<'HEALTHCHECK'>).none).toBe(true);
    const ob = ins[14] as InstructionOf<'ONBUILD'>;
    expect(ob.trigger).toBe('RUN echo child');
    expect(ob.inner.kind).toBe('RUN');
    expect((ins[16] as InstructionOf<'SHELL'>).args).toEqual(['/bin/bash', '-c']);
    expect((ins[17] as InstructionOf<'RUN'>).flags).toEqual([{ name: 'mount', value: 'type=cache,target=/c' }, { name: 'network', value: 'none' }]);
  });
});
