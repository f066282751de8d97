/**
 * undici, loaded on first use: it is the largest dependency, and commands that never touch the network
 * (`--version`, `images`, `ps`, local copies) start without parsing it. Memoised; types come from
 * `import type` at the call sites. A bundled CommonJS module may arrive as `{ default: exports }`, so the
 * namespace is normalised to the exports object.
 */
type Undici = typeof import('undici');
let loading: Promise<Undici> | undefined;
export function loadUndici(): Promise<Undici> {
  loading ??= import('undici').then((m) => {
    const ns = m as Undici & { default?: Undici };
    return typeof ns.Agent === 'function' ? ns : (ns.default as Undici);
  });
  return loading;
}
