import { describe, expect, it } from 'vitest';
import { groupTarget, rewriteGroupArgs } from '../../../shared/cli/command-groups.ts';
import { unitsHumanSize } from '../../../shared/cli/human.ts';
import { RUN_TOOL_GROUPS } from '../../../run-tool/commands/groups.ts';
import { detachFilter, parseDetachKeys } from '../../../run-tool/ops/attach-container.ts';

describe('detach keys', () => {
  it('parses podman\'s spelling: characters and ctrl-X', () => {
    expect(parseDetachKeys('ctrl-p,ctrl-q')).toEqual([16, 17]);
    expect(parseDetachKeys('a,ctrl-@,ctrl-[,ctrl-_')).toEqual([97, 0, 27, 31]);
    expect(parseDetachKeys('')).toEqual([]);
    expect(() => parseDetachKeys('ctrl-1')).toThrow('invalid detach keys "ctrl-1"');
    expect(() => parseDetachKeys('ab')).toThrow('invalid detach keys');
  });
  it('detects the sequence across chunks, restarting on a wrong key', () => {
    const d = detachFilter([16, 17]);
    expect(d.push(Uint8Array.of(1, 16)).detached).toBe(false);
    expect(d.push(Uint8Array.of(16)).detached).toBe(false);
    expect(d.push(Uint8Array.of(17)).detached).toBe(true);
    expect(detachFilter([]).push(Uint8Array.of(16, 17))).toEqual({ pass: Buffer.of(16, 17), detached: false });
  });
  it('passes typed input on, holding back what may begin the sequence and dropping the sequence itself', () => {
    const d = detachFilter([16, 17]);
    expect(d.push(Buffer.from('ab\x10'))).toEqual({ pass: Buffer.from('ab'), detached: false });
    // broken by another key: the held ctrl-p goes on, in order
    expect(d.push(Buffer.from('c'))).toEqual({ pass: Buffer.from('\x10c'), detached: false });
    // two ctrl-p: the first goes on, the second may still begin the sequence
    expect(d.push(Buffer.from('\x10\x10'))).toEqual({ pass: Buffer.of(16), detached: false });
    // completed inside a chunk: what came before passes, the keys and what follows them do not
    expect(d.push(Buffer.from('\x11after'))).toEqual({ pass: Buffer.alloc(0), detached: true });
    expect(detachFilter([16, 17]).push(Buffer.from('x\x10\x11y'))).toEqual({ pass: Buffer.from('x'), detached: true });
    expect(detachFilter([24]).push(Buffer.from('ab\x18c'))).toEqual({ pass: Buffer.from('ab'), detached: true });
  });
});

describe('command groups', () => {
  const known = new Set(['ps', 'rm', 'images', 'rmi', 'inspect', 'image-prune', 'pause']);
  it('rewrites GROUP SUB to the top-level command, keeping global options before it', () => {
    expect(rewriteGroupArgs(['--root', '/s', 'container', 'ls', '-a'], RUN_TOOL_GROUPS, known)).toEqual(['--root', '/s', 'ps', '-a']);
    expect(rewriteGroupArgs(['image', 'rm', 'x'], RUN_TOOL_GROUPS, known)).toEqual(['rmi', 'x']);
    expect(rewriteGroupArgs(['image', 'inspect', 'x'], RUN_TOOL_GROUPS, known)).toEqual(['inspect', '--type', 'image', 'x']);
    expect(rewriteGroupArgs(['image', 'prune', '-f'], RUN_TOOL_GROUPS, known)).toEqual(['image-prune', '-f']);
    expect(rewriteGroupArgs(['--root', 'container', 'container', 'ls'], RUN_TOOL_GROUPS, known)).toEqual(['--root', 'container', 'ps']);
  });
  it('leaves other commands, unknown members and members the tool lacks alone', () => {
    expect(rewriteGroupArgs(['ps', 'container'], RUN_TOOL_GROUPS, known)).toEqual(['ps', 'container']);
    expect(rewriteGroupArgs(['container', 'bogus'], RUN_TOOL_GROUPS, known)).toEqual(['container', 'bogus']);
    expect(rewriteGroupArgs(['container', 'exists', 'x'], RUN_TOOL_GROUPS, known)).toEqual(['container', 'exists', 'x']);
    expect(rewriteGroupArgs(['container'], RUN_TOOL_GROUPS, known)).toEqual(['container']);
    expect(groupTarget(RUN_TOOL_GROUPS.container!, 'top', known)).toBeUndefined();
  });
});

describe('unitsHumanSize (go-units)', () => {
  it('prints podman\'s df and ps sizes', () => {
    expect(unitsHumanSize(2141346)).toBe('2.141MB');
    expect(unitsHumanSize(14)).toBe('14B');
    expect(unitsHumanSize(0)).toBe('0B');
    expect(unitsHumanSize(1985581, 3)).toBe('1.99MB');
  });
});
