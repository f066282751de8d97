/**
 * undici, loaded on first use: it is the largest dependency, and commands that never touch the network
 * (`--version`, `images`, `ps`, local copies) start without parsing it. Only the parts skiff calls are loaded
 * (undici-core.cjs: request, Agent, EnvHttpProxyAgent), not undici's index, which also evaluates fetch,
 * WebSocket and the mock agents. Memoised; types come from `import type` at the call sites. A bundled
 * CommonJS module may arrive as `{ default: exports }`, so the namespace is normalised to the exports object.
 */
type Undici = Pick<typeof import('undici'), 'Agent' | 'EnvHttpProxyAgent' | 'request'>;
let loading: Promise<Undici> | undefined;
export function loadUndici(): Promise<Undici> {
  loading ??= import('./undici-core.cjs').then((m) => {
    const ns = m as unknown as Undici & { default?: Undici };
    return typeof ns.Agent === 'function' ? ns : (ns.default as Undici);
  });
  return loading;
}
