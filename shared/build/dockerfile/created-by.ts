/**
 * buildah's `created_by` history strings for metadata instructions, RUN, and COPY/ADD. Pure.
 */
/** buildah's created_by for a metadata instruction: `/bin/sh -c #(nop) KEYWORD text`. */
export function nopCreatedBy(keyword: string, text: string): string {
  return `/bin/sh -c #(nop) ${keyword.toUpperCase()} ${text}`;
}

/** buildah's created_by for RUN: `|N K=V… /bin/sh -c cmd` when N build args are in scope (proxy args never listed). */
export function runCreatedBy(text: string, args: readonly [string, string][]): string {
  const prefix = args.length ? `|${args.length} ${args.map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
  return `${prefix}/bin/sh -c ${text}`;
}

/** buildah's created_by for COPY/ADD: `/bin/sh -c #(nop) COPY <summary> in <dest> `. */
export function copyCreatedBy(kind: 'COPY' | 'ADD', summary: string, dest: string): string {
  return `/bin/sh -c #(nop) ${kind} ${summary} in ${dest} `;
}
