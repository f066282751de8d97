import { describe, expect, it } from 'vitest';
import {
  familiarName,
  formatReference,
  localTagForm,
  normalizePull,
  parseReference,
} from '../../../shared/ref/reference.ts';

const D = `sha256:${'b'.repeat(64)}`;
const f = (s: string) => formatReference(normalizePull(s));

describe('parseReference', () => {
  it.each([
    ['busybox', { path: 'busybox' }],
    ['busybox:1.36', { path: 'busybox', tag: '1.36' }],
    ['library/busybox', { path: 'library/busybox' }],
    ['localhost/app', { registry: 'localhost', path: 'app' }],
    ['localhost:5000/x', { registry: 'localhost:5000', path: 'x' }],
    ['localhost:5000', { path: 'localhost', tag: '5000' }],
    [`host:5000/ns/repo:tag@${D}`, { registry: 'host:5000', path: 'ns/repo', tag: 'tag', digest: D }],
    [`repo@${D}`, { path: 'repo', digest: D }],
    ['quay.io/a/b/c', { registry: 'quay.io', path: 'a/b/c' }],
    ['127.0.0.1:5000/a_b__c-d--e.f', { registry: '127.0.0.1:5000', path: 'a_b__c-d--e.f' }],
    ['[::1]:5000/x', { registry: '[::1]:5000', path: 'x' }],
    ['Example.COM/x', { registry: 'Example.COM', path: 'x' }],
  ])('%s', (s, want) => {
    expect(parseReference(s)).toEqual(want);
    expect(formatReference(parseReference(s))).toBe(s);
  });

  it.each([
    ['', 'empty'],
    ['Busybox', 'lowercase'],
    ['docker.io/Library/busybox', 'lowercase'],
    ['a:b:c', 'path component'],
    ['a:-x', 'tag'],
    [`a:${'x'.repeat(129)}`, 'tag'],
    ['a@sha256:abc', 'sha256'],
    ['a@md5:abc', 'sha256'],
    ['/a', 'empty'],
    ['a//b', 'empty'],
    ['a/', 'empty'],
    ['a_-b', 'lowercase letters'],
    ['-host.io/x', 'registry'],
    ['a'.repeat(64), 'image ID'],
    [`${'a'.repeat(256)}`, 'longer'],
    ['a b', 'path component'],
  ])('rejects %j (%s)', (s, why) => {
    expect(() => parseReference(s)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining(why) }));
  });
});

describe('normalisation', () => {
  it('pull form: docker.io, library/, default tag', () => {
    expect(f('busybox')).toBe('docker.io/library/busybox:latest');
    expect(f('user/app')).toBe('docker.io/user/app:latest');
    expect(f('index.docker.io/busybox:1')).toBe('docker.io/library/busybox:1');
    expect(f(`busybox@${D}`)).toBe(`docker.io/library/busybox@${D}`);
    expect(f('localhost:5000/x')).toBe('localhost:5000/x:latest');
    expect(f(`host:5000/ns/repo:tag@${D}`)).toBe(`host:5000/ns/repo:tag@${D}`);
    expect(f('localhost/app')).toBe('localhost/app:latest');
  });

  it('local tag form puts short names under localhost/', () => {
    expect(formatReference(localTagForm('app'))).toBe('localhost/app:latest');
    expect(formatReference(localTagForm('ns/app:v2'))).toBe('localhost/ns/app:v2');
    expect(formatReference(localTagForm('quay.io/ns/app'))).toBe('quay.io/ns/app:latest');
    expect(formatReference(localTagForm('busybox'))).toBe('localhost/busybox:latest');
  });

  it('familiarName shortens Docker Hub names only', () => {
    expect(familiarName('docker.io/library/busybox:latest')).toBe('busybox:latest');
    expect(familiarName('docker.io/user/app:1')).toBe('user/app:1');
    expect(familiarName('docker.io/library/a/b:1')).toBe('library/a/b:1');
    expect(familiarName('quay.io/library/x:1')).toBe('quay.io/library/x:1');
    expect(familiarName('localhost/app:latest')).toBe('localhost/app:latest');
  });
});
