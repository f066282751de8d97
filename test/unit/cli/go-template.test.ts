import { describe, expect, it } from 'vitest';
import { parseGoTemplate } from '../../../shared/cli/go-template.ts';

const data = {
  Name: 'docker.io/library/busybox',
  Digest: 'sha256:abc',
  RepoTags: ['1', 'latest'],
  Labels: { 'org.x': 'y', a: 'b' },
  Config: { Env: ['PATH=/bin', 'A=1'] },
  Size: 42,
};

describe('Go template subset', () => {
  it.each([
    ['{{.Name}}', 'docker.io/library/busybox'],
    ['{{.Config.Env}}', '[PATH=/bin A=1]'],
    ['{{json .RepoTags}}', '["1","latest"]'],
    ['{{index .Labels "org.x"}}', 'y'],
    ['{{join .RepoTags ","}}', '1,latest'],
    ['{{range .RepoTags}}<{{.}}>{{end}}', '<1><latest>'],
    ['{{if .Labels}}yes{{else}}no{{end}}', 'yes'],
    ['{{if .Missing}}yes{{else}}no{{end}}', 'no'],
    ['{{.Name}}\\t{{.Size}}\\n', 'docker.io/library/busybox\t42\n'],
    ['{{printf "%s=%d" .Digest .Size}}', 'sha256:abc=42'],
    ['{{len .RepoTags}}', '2'],
    ['{{upper .Digest}}', 'SHA256:ABC'],
    ['  {{- .Size -}}  !', '42!'],
    ['{{.Missing}}', ''],
    ['{{.Labels}}', 'map[a:b org.x:y]'],
  ])('%s', (fmt, want) => {
    expect(parseGoTemplate(fmt).render(data)).toBe(want);
  });

  it('rejects unknown functions and unbalanced blocks', () => {
    expect(() => parseGoTemplate('{{nope .X}}').render(data)).toThrow(/not defined/);
    expect(() => parseGoTemplate('{{range .RepoTags}}x')).toThrow(/missing \{\{end\}\}/);
    expect(() => parseGoTemplate('{{end}}')).toThrow(/unexpected/);
    expect(() => parseGoTemplate('{{.Name')).toThrow(/unclosed/);
  });
});
