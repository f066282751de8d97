import { describe, expect, it } from 'vitest';
import { isValidRefName, parseRefName } from '../../../shared/oci/ref-name.ts';
import { parseImageName } from '../../../shared/ref/transport-name.ts';

describe('LS-06 ref names', () => {
  it('LS-06 path-like, empty, spaced, hidden and over-long names are rejected', () => {
    for (const bad of ['../../etc/x', 'a/../b', '/abs', '', 'a b', '.hidden', 'x'.repeat(300), 'a/', 'a//b', 'a/./b', '..', 'a\nb', 'a\0b']) {
      expect(isValidRefName(bad), JSON.stringify(bad)).toBe(false);
      expect(() => parseRefName(bad)).toThrow(expect.objectContaining({ code: 'EINVALID' }));
    }
  });

  it('LS-06 grammar-valid names are accepted, including a/b', () => {
    for (const good of ['a/b', 'latest', 'v1.2.3', 'a--b', 'a:b', 'a@b+c', 'A_b', 'x'.repeat(255)]) {
      expect(isValidRefName(good), good).toBe(true);
    }
  });

  it('LS-06 oci:/p:a:b splits at the first colon as skopeo does', () => {
    expect(parseImageName('oci:/p:a:b')).toEqual({ transport: 'oci', path: '/p', refName: 'a:b' });
    expect(parseImageName('oci:/p')).toEqual({ transport: 'oci', path: '/p' });
    expect(parseImageName('oci:/p:')).toEqual({ transport: 'oci', path: '/p' });
    expect(parseImageName('oci-archive:/x.tar:v1')).toEqual({ transport: 'oci-archive', path: '/x.tar', refName: 'v1' });
    for (const bad of ['oci:/p:../../etc/x', 'oci:/p:a/../b', 'oci:/p:.hidden', 'oci:/p:a b', `oci:/p:${'x'.repeat(300)}`, 'oci::x']) {
      expect(() => parseImageName(bad), bad).toThrow(expect.objectContaining({ code: 'EINVALID' }));
    }
  });
});
