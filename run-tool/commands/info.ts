import type { Command } from 'commander';
import { addRootOption, storeRootOf, VERSION } from '../../shared/cli/program.ts';
import { goType, parseGoTemplate } from '../../shared/cli/go-template.ts';
import { gatherInfo } from '../ops/info.ts';

/** Renders a value as the simple YAML podman's default `info` output uses. */
function toYaml(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return ' []\n';
    return `\n${v.map((x) => (typeof x === 'object' && x !== null ? `${indent}- ${toYaml(x, `${indent}  `).trimStart()}` : `${indent}- ${String(x)}\n`)).join('')}`;
  }
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v);
    if (entries.length === 0) return ' {}\n';
    return `\n${entries.map(([k, x]) => `${indent}${k}:${typeof x === 'object' && x !== null ? toYaml(x, `${indent}  `) : ` ${typeof x === 'string' && (x === '' || /[:#]/.test(x)) ? JSON.stringify(x) : String(x)}\n`}`).join('')}`;
  }
  return ` ${String(v)}\n`;
}

/** Adds `info [--format json|TEMPLATE]` (podman's; YAML by default) — also the rootless doctor. */
export function addInfoCommand(program: Command): void {
  const cmd = program.command('info').description('display system information and what rootless use is missing').option('-f, --format <format>', "'json' or a Go template, e.g. '{{.Host.Kernel}}'");
  addRootOption(cmd).action(async (a: { format?: string }) => {
    const info = await gatherInfo(storeRootOf(cmd), { version: VERSION });
    if (a.format === 'json') return void process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    if (a.format !== undefined) return void process.stdout.write(`${parseGoTemplate(a.format, { name: 'info' }).render(goType(capitalised(info) as Record<string, unknown>, '*define.Info'))}\n`);
    process.stdout.write(toYaml(info).replace(/^\n/, ''));
  });
}

/** podman's templates use Go field names (`{{.Host.Kernel}}`): expose capitalised keys alongside the JSON ones. */
function capitalised(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(capitalised);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const c = capitalised(x);
    out[k] = c;
    out[k.charAt(0).toUpperCase() + k.slice(1)] = c;
  }
  return out;
}
