import { describe, expect, it } from 'vitest';
import { parseImageName } from '../../../shared/ref/transport-name.ts';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseImageName', () => {
  it('recognises only the known transports', () => {
    expect(parseImageName('docker://busybox:1')).toEqual({ transport: 'docker', ref: { path: 'busybox', tag: '1' } });
    expect(parseImageName('localhost:5000/x')).toEqual({ transport: 'plain', ref: { registry: 'localhost:5000', path: 'x' } });
    expect(parseImageName('busybox:1')).toEqual({ transport: 'plain', ref: { path: 'busybox', tag: '1' } });
    expect(parseImageName('dir:/tmp/d')).toEqual({ transport: 'dir', path: '/tmp/d' });
    expect(parseImageName('store:app')).toEqual({ transport: 'store', ref: { path: 'app' } });
    expect(parseImageName(`store:${D}`)).toEqual({ transport: 'store', id: D });
    expect(parseImageName(`store:${'a'.repeat(64)}`)).toEqual({ transport: 'store', id: D });
  });

  it('parses docker-archive references and source indexes', () => {
    expect(parseImageName('docker-archive:/a.tar')).toEqual({ transport: 'docker-archive', path: '/a.tar' });
    expect(parseImageName('docker-archive:/a.tar:busybox:1')).toEqual({ transport: 'docker-archive', path: '/a.tar', ref: { path: 'busybox', tag: '1' } });
    expect(parseImageName('docker-archive:/a.tar:@2')).toEqual({ transport: 'docker-archive', path: '/a.tar', sourceIndex: 2 });
    expect(() => parseImageName('docker-archive:/a.tar:@x')).toThrow(expect.objectContaining({ code: 'EINVALID' }));
    expect(() => parseImageName(`docker-archive:/a.tar:x@${D}`)).toThrow(expect.objectContaining({ code: 'EINVALID' }));
  });

  it('rejects malformed names clearly', () => {
    for (const bad of ['docker://', 'docker://UPPER/x', 'docker:busybox', 'dir:', 'store:', 'oci:', 'Busybox']) {
      expect(() => parseImageName(bad), bad).toThrow(expect.objectContaining({ code: 'EINVALID' }));
    }
    try {
      parseImageName('docker://Busybox');
    } catch (e) {
      expect((e as Error).message).toContain('docker://Busybox');
      expect((e as Error).message).toContain('lowercase');
    }
  });
});
