// Go text/template semantics, case by case, as Go's own text/template tests pin them down (cases written here).
import { describe, expect, it } from 'vitest';
import { goMap, goType, parseGoTemplate } from '../../../shared/cli/go-template.ts';

const data = goType(
  {
    Name: 'docker.io/library/busybox',
    Digest: 'sha256:abc',
    RepoTags: ['1', 'latest'],
    Labels: { 'org.x': 'y', a: 'b' },
    Config: goType({ Env: ['PATH=/bin', 'A=1'], Cmd: null, User: '', Labels: null, Other: null }, 'v1.ImageConfig'),
    Size: 42,
    Ratio: 0.5,
    Empty: [] as string[],
    True: true,
    Zero: 0,
    Nums: [3, 1, 2],
    Opts: goMap({ k: 'v' }),
    Nested: { Inner: { Deep: 'x' } },
  },
  'images.imageReporter',
);

const render = (f: string, d: unknown = data): string => parseGoTemplate(f, { name: 't' }).render(d);

describe('Go template: actions, fields, variables', () => {
  it.each([
    ['{{.Name}}', 'docker.io/library/busybox'],
    ['{{.Config.Env}}', '[PATH=/bin A=1]'],
    ['{{.Nested.Inner.Deep}}', 'x'],
    ['{{.}}', '42'],
    ['{{.Labels}}', 'map[a:b org.x:y]'],
    ['{{.Labels.a}}', 'b'],
    ['{{.Labels.missing}}', '<no value>'],
    ['{{.Labels.missing.deeper}}', '<no value>'],
    ['{{.Opts.k}}|{{.Opts.zz}}', 'v|<no value>'],
    ['{{.Config.Cmd}}', '[]'], // JSON null under a slice field is a nil slice
    ['{{.Config.Labels}}|{{.Config.Labels.x}}|{{len .Config.Labels}}', 'map[]|<no value>|0'],
    ['{{.Config.User}}|{{.Config.Other}}', '|<nil>'],
    ['{{$}}', ''],
    ['{{$x := .Size}}{{$x}}', '42'],
    ['{{$x := 1}}{{$x = 2}}{{$x}}', '2'],
    ['{{$x := .Nested}}{{$x.Inner.Deep}}', 'x'],
    ['{{with $x := .Name}}{{$x}}{{end}}', 'docker.io/library/busybox'],
    ['{{(.Nested).Inner.Deep}}', 'x'],
    ['{{"quoted\\tstring"}}', 'quoted\tstring'],
    ['{{`raw\\t`}}', 'raw\t'], // podman turns a typed \t into a tab everywhere in the format, raw strings too
    ['{{1}} {{-1}} {{0x1F}} {{0o17}} {{0b101}} {{1_000}} {{017}} {{0x1p3}} {{+5}}', '1 -1 31 15 5 1000 15 8 5'],
    ['{{1.5}} {{1e3}} {{1.0}} {{.5}}', '1.5 1000 1 0.5'],
    ["{{'a'}} {{'\\x41'}}", '97 65'],
    ['{{true}} {{false}}', 'true false'],
    ['a{{/* a comment */}}b', 'ab'],
    ['a  {{- /* trimmed */ -}}  b', 'ab'],
    ['x {{- .Size -}} y', 'x42y'],
  ])('%s', (fmt, want) => {
    expect(render(fmt, fmt === '{{.}}' ? 42 : fmt === '{{$}}' ? '' : data)).toBe(want);
  });
});

describe('Go template: control structures', () => {
  it.each([
    ['{{if .True}}y{{else}}n{{end}}', 'y'],
    ['{{if .Zero}}y{{else}}n{{end}}', 'n'],
    ['{{if .Empty}}y{{else}}n{{end}}', 'n'],
    ['{{if .Labels}}y{{else}}n{{end}}', 'y'],
    ['{{if .Labels.missing}}y{{else}}n{{end}}', 'n'],
    ['{{if .Config}}struct is true{{end}}', 'struct is true'],
    ['{{if .Zero}}1{{else if .Empty}}2{{else if .True}}3{{else}}4{{end}}', '3'],
    ['{{with .Name}}{{.}}{{else}}none{{end}}', 'docker.io/library/busybox'],
    ['{{with .Config.User}}{{.}}{{else}}none{{end}}', 'none'],
    ['{{range .RepoTags}}<{{.}}>{{end}}', '<1><latest>'],
    ['{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}', '0=1 1=latest '],
    ['{{range $t := .RepoTags}}{{$t}}{{end}}', '1latest'],
    ['{{range .Empty}}x{{else}}empty{{end}}', 'empty'],
    ['{{range .Labels.nope}}x{{else}}nil map{{end}}', 'nil map'],
    ['{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}', 'a=b;org.x=y;'],
    ['{{range .Labels}}{{.}}{{end}}', 'by'],
    ['{{range .Nums}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}', '32'],
    ['{{range .Nums}}{{if eq . 1}}{{break}}{{end}}{{.}}{{end}}', '3'],
    ['{{range .RepoTags}}{{$.Size}}{{end}}', '4242'],
    ['{{define "T"}}[{{.}}]{{end}}{{template "T" .Size}}{{template "T"}}', '[42][<no value>]'],
    ['{{block "B" .Name}}<{{.}}>{{end}}', '<docker.io/library/busybox>'],
    ['{{define "B"}}{{end}}{{block "B" .Size}}default{{end}}', 'default'],
    ['{{define "R"}}{{if .}}{{.}}{{template "R" slice . 1}}{{end}}{{end}}{{template "R" "abc"}}', 'abcbcc'],
  ])('%s', (fmt, want) => {
    expect(render(fmt)).toBe(want);
  });
});

describe('Go template: builtin functions', () => {
  it.each([
    ['{{and 1 2}} {{and 0 2}} {{and 1 ""}}', '2 0 '],
    ['{{or 0 ""}} {{or 0 "x"}} {{or 1 .Nope}}', ' x 1'],
    ['{{and .Zero .Nope}}', '0'],
    ['{{not 0}} {{not .True}} {{not .Empty}}', 'true false true'],
    ['{{len .RepoTags}} {{len .Labels}} {{len "héllo"}}', '2 2 6'],
    ['{{index .RepoTags 1}} {{index .Labels "a"}} {{index .Labels "nope"}}|', 'latest b |'],
    ['{{index "abc" 1}}', '98'],
    ['{{slice "abcdef" 1 3}} {{slice .Nums 1}} {{slice .Nums}}', 'bc [1 2] [3 1 2]'],
    ['{{print 1 2 "a" "b" 3}}', '1 2ab3'],
    ['{{println "a" 1}}', 'a 1\n'],
    ['{{printf "%s=%d" .Digest .Size}}', 'sha256:abc=42'],
    ['{{.Size | printf "%d-%s" 1}}', '%!s(int=42)'.replace('%!s(int=42)', '1-%!s(int=42)')],
    ['{{"x" | printf "%s-%s" "y"}}', 'y-x'],
    ['{{html "<a href=\'x\'>&\\"" }}', '&lt;a href=&#39;x&#39;&gt;&amp;&#34;'],
    ['{{js "a\'b\\"c<d>=&\\\\"}}', "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\\\"],
    ['{{urlquery "a b&c=d/é"}}', 'a+b%26c%3Dd%2F%C3%A9'],
    ['{{eq 1 1}} {{eq 1 2}} {{eq 2 1 3 2}} {{eq "a" "a"}} {{eq .Labels.nope "x"}}', 'true false true true false'],
    ['{{ne 1 2}} {{ne "a" "a"}}', 'true false'],
    ['{{lt 1 2}} {{le 2 2}} {{gt 1.5 0.5}} {{ge "b" "a"}} {{lt "a" "b"}}', 'true true true true true'],
    ['{{if and (gt .Size 10) (lt .Size 100)}}in{{end}}', 'in'],
  ])('%s', (fmt, want) => {
    expect(render(fmt)).toBe(want);
  });
});

describe("podman's functions", () => {
  it.each([
    ['{{json .RepoTags}}', '["1","latest"]'],
    ['{{json .Labels}}', '{"a":"b","org.x":"y"}'],
    ['{{json .Config}}', '{"Env":["PATH=/bin","A=1"],"Cmd":null,"User":"","Labels":null,"Other":null}'],
    ['{{json "<&>"}}', '"<&>"'],
    ['{{upper .Digest}} {{lower "ABC"}} {{upper "straße"}}', 'SHA256:ABC abc STRAßE'],
    ['{{title "hello wide world"}}', 'Hello Wide World'],
    ['{{split "a,b,c" ","}}', '[a b c]'],
    ['{{join .RepoTags ","}}', '1,latest'],
    ['{{join (split "a:b" ":") "-"}}', 'a-b'],
    ['{{truncate .Digest 6}}|{{truncate "ab" 5}}', 'sha256|ab'],
    ['{{pad "x" 1 2}}|{{pad "" 3 3}}|', ' x  ||'],
    ['{{.Name | upper}}', 'DOCKER.IO/LIBRARY/BUSYBOX'],
  ])('%s', (fmt, want) => {
    expect(render(fmt)).toBe(want);
  });
});

describe('Go template: execution errors (Go messages)', () => {
  it.each([
    ['{{.Nope}}', 'template: t:1:2: executing "t" at <.Nope>: can\'t evaluate field Nope in type images.imageReporter'],
    ['{{.Config.Nope}}', 'template: t:1:9: executing "t" at <.Config.Nope>: can\'t evaluate field Nope in type v1.ImageConfig'],
    ['{{.Name.X}}', 'template: t:1:7: executing "t" at <.Name.X>: can\'t evaluate field X in type string'],
    ['{{.Config.Other.X}}', 'template: t:1:9: executing "t" at <.Config.Other.X>: nil pointer evaluating interface {}.X'],
    ['{{.Size 1}}', 'template: t:1:2: executing "t" at <.Size>: Size has arguments but cannot be invoked as function'],
    ['{{3 .Size}}', 'template: t:1:2: executing "t" at <3>: can\'t give argument to non-function 3'],
    ['{{nil}}', 'template: t:1:2: executing "t" at <nil>: nil is not a command'],
    ['{{index .RepoTags 5}}', 'template: t:1:2: executing "t" at <index .RepoTags 5>: error calling index: index out of range: 5'],
    ['{{len 3}}', 'template: t:1:2: executing "t" at <len 3>: error calling len: len of type int'],
    ['{{eq .Size "x"}}', 'template: t:1:2: executing "t" at <eq .Size "x">: error calling eq: incompatible types for comparison'],
    ['{{eq 1 1.0}}', 'template: t:1:2: executing "t" at <eq 1 1.0>: error calling eq: incompatible types for comparison'],
    ['{{lt true false}}', 'template: t:1:2: executing "t" at <lt true false>: error calling lt: invalid type for comparison'],
    ['{{upper 3}}', 'template: t:1:8: executing "t" at <3>: expected string; found 3'],
    ['{{upper .Size}}', 'template: t:1:8: executing "t" at <.Size>: wrong type for value; expected string; got int'],
    ['{{upper .Labels.zz}}', 'template: t:1:15: executing "t" at <.Labels.zz>: invalid value; expected string'],
    ['{{join .Labels ","}}', 'template: t:1:7: executing "t" at <.Labels>: wrong type for value; expected []string; got map[string]string'],
    ['{{upper}}', 'template: t:1:2: executing "t" at <upper>: wrong number of args for upper: want 1 got 0'],
    ['{{$x = 1}}', 'template: t:1:7: executing "t" at <1>: undefined variable: $x'],
    ['{{("a").X}}', 'template: t:1:3: executing "t" at <"a">: can\'t evaluate field X in type string'],
    ['{{len nil}}', 'template: t:1:2: executing "t" at <len nil>: error calling len: reflect: call of reflect.Value.Type on zero Value'],
    ['{{template "x"}}', 'template: t:1:11: executing "t" at <{{template "x"}}>: template "x" not defined'],
    ['{{range .Size}}{{.}}{{end}}', 'template: t:1:8: executing "t" at <.Size>: range can\'t iterate over 42'], // podman 4.3's Go: no range over ints
    ['{{range .Name}}{{end}}', 'template: t:1:8: executing "t" at <.Name>: range can\'t iterate over docker.io/library/busybox'],
    ['line1\n{{.Nope}}', 'template: t:2:2: executing "t" at <.Nope>: can\'t evaluate field Nope in type images.imageReporter'],
  ])('%s', (fmt, msg) => {
    expect(() => render(fmt)).toThrow(msg);
    try {
      render(fmt);
    } catch (e) {
      expect((e as { code?: string }).code).toBe('EINVALID');
    }
  });
});

describe('Go template: parse errors (Go messages)', () => {
  it.each([
    ['{{.Name', 'template: t:1: unclosed action'],
    ['{{end}}', 'template: t:1: unexpected {{end}}'],
    ['{{else}}', 'template: t:1: unexpected {{else}}'],
    ['{{if .X}}x', 'template: t:1: unexpected EOF'],
    ['{{if}}x{{end}}', 'template: t:1: missing value for if'],
    ['{{range}}{{end}}', 'template: t:1: missing value for range'],
    ['{{nope .X}}', 'template: t:1: function "nope" not defined'],
    ['{{$x}}', 'template: t:1: undefined variable "$x"'],
    ['{{if 1}}{{$x := 1}}{{end}}{{$x}}', 'template: t:1: undefined variable "$x"'],
    ['{{break}}', 'template: t:1: {{break}} outside {{range}}'],
    ['{{.X | 3}}', 'template: t:1: non executable command in pipeline stage 2'],
    ['{{"x}}', 'template: t:1: unterminated quoted string'],
    ['{{(.X}}', 'template: t:1: unclosed left paren'],
    ['{{.X)}}', 'template: t:1: unexpected ")" in command'],
    ['{{with 1}}{{else with 2}}{{end}}', 'template: t:1: unexpected <with> in else'],
    ['{{with 1}}{{else if 2}}{{end}}', 'template: t:1: unexpected <if> in input'],
    ['{{ / }}', 'template: t:1: unexpected "/" in command'],
    ['{{.X ;}}', 'template: t:1: unexpected ";" in operand'],
    ['{{.X-}}', "template: t:1: bad character U+002D '-'"],
    ['{{-.X}}', 'template: t:1: bad number syntax: "-.X"'],
    ['{{1e}}', 'template: t:1: illegal number syntax: "1e"'],
    ['{{08}}', 'template: t:1: integer overflow: "08"'],
    ['{{99999999999999999999}}', 'template: t:1: integer overflow: "99999999999999999999"'],
    ['{{1.5.5}}', 'template: t:1: unexpected ".5" in operand'],
    ['{{/* x }}', 'template: t:1: unclosed comment'],
    ['{{3x}}', 'template: t:1: bad number syntax: "3x"'],
    ['{{.X {{end}}', "template: t:1: bad character U+007B '{'"],
    ['{{"a".X}}', 'template: t:1: unexpected . after term "\\"a\\""'],
    ['a\n\n{{end}}', 'template: t:3: unexpected {{end}}'],
    ['{{define "B"}}x{{end}}{{block "B" .}}y{{end}}', 'template: t:1: template: multiple definition of template "B"'],
  ])('%s', (fmt, msg) => {
    expect(() => parseGoTemplate(fmt, { name: 't' })).toThrow(msg);
  });
});

describe('Go template: hostile formats end with an error, not a crash', () => {
  it('a template that invokes itself forever stops with Go\'s depth error', () => {
    expect(() => render('{{define "R"}}{{template "R" .}}{{end}}{{template "R" .}}')).toThrow(/exceeded maximum template depth \(100000\)/);
  });

  it('a printf width or precision over a million is refused as fmt does (no giant allocation)', () => {
    expect(render('{{printf "%999999999d" 1}}')).toBe('%!(NOVERB)');
    expect(render('{{printf "%.999999999f" 1.5}}')).toBe('%!(NOVERB)');
    expect(render('{{printf "%*d" 99999999 1}}')).toBe('%!(BADWIDTH)1');
  });

  it('deeply nested parentheses parse or fail cleanly', () => {
    const deep = `{{${'('.repeat(200)}1${')'.repeat(200)}}}`;
    expect(render(deep)).toBe('1');
  });
});
