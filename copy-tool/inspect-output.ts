import type { ImageConfig, Manifest } from '../shared/oci/types.ts';

/** skopeo inspect's output object, fields in skopeo's order (Name and Tag omitted when empty). */
export interface InspectOutput {
  Name?: string;
  Tag?: string;
  Digest: string;
  RepoTags: string[];
  Created: string | null;
  DockerVersion: string;
  Labels: Record<string, string> | null;
  Architecture: string;
  Os: string;
  Layers: string[];
  LayersData: { MIMEType: string; Digest: string; Size: number; Annotations: Record<string, string> | null }[];
  Env: string[] | null;
}

/** A timestamp as Go's RFC 3339 marshalling prints it: fraction without trailing zeros, none when zero. */
export function goTime(s: string | undefined): string | null {
  if (!s) return null;
  return s.replace(/\.(\d+)(?=Z|[+-]\d\d:\d\d$)/, (_m, frac: string) => {
    const t = frac.replace(/0+$/, '');
    return t ? `.${t}` : '';
  });
}

/** Builds skopeo inspect's output from the top-level manifest digest, the chosen image's manifest and config. */
export function inspectOutput(o: { name?: string; digest: string; repoTags: string[]; manifest: Manifest; config: ImageConfig }): InspectOutput {
  const c = o.config;
  return {
    ...(o.name ? { Name: o.name } : {}),
    Digest: o.digest,
    RepoTags: o.repoTags,
    Created: goTime(c.created),
    DockerVersion: typeof c.docker_version === 'string' ? c.docker_version : '',
    Labels: c.config?.Labels ?? null,
    Architecture: c.architecture,
    Os: c.os,
    Layers: o.manifest.layers.map((l) => l.digest),
    LayersData: o.manifest.layers.map((l) => ({ MIMEType: l.mediaType, Digest: l.digest, Size: l.size, Annotations: l.annotations ?? null })),
    Env: c.config?.Env ?? null,
  };
}

/**
 * The config as skopeo's `--config` prints it: the OCI image-spec form (Docker-only fields dropped), keys in
 * the spec's struct order, empty fields omitted.
 */
export function ociConfigView(c: ImageConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown): void => {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0)) return;
    out[k] = v;
  };
  put('created', goTime(c.created));
  put('author', c.author);
  put('architecture', c.architecture);
  put('variant', c.variant);
  put('os', c.os);
  put('os.version', c['os.version']);
  put('os.features', c['os.features']);
  if (c.config) {
    const cc = c.config;
    const conf: Record<string, unknown> = {};
    const cput = (k: string, v: unknown): void => {
      if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0)) return;
      conf[k] = v;
    };
    cput('User', cc.User);
    cput('ExposedPorts', cc.ExposedPorts);
    cput('Env', cc.Env);
    cput('Entrypoint', cc.Entrypoint);
    cput('Cmd', cc.Cmd);
    cput('Volumes', cc.Volumes);
    cput('WorkingDir', cc.WorkingDir);
    cput('Labels', cc.Labels);
    cput('StopSignal', cc.StopSignal);
    if (cc.ArgsEscaped) conf.ArgsEscaped = true;
    out.config = conf;
  }
  out.rootfs = { type: c.rootfs.type, diff_ids: c.rootfs.diff_ids };
  if (c.history && c.history.length > 0) {
    out.history = c.history.map((h) => {
      const e: Record<string, unknown> = {};
      if (h.created) e.created = goTime(h.created);
      if (h.created_by) e.created_by = h.created_by;
      if (h.author) e.author = h.author;
      if (h.comment) e.comment = h.comment;
      if (h.empty_layer) e.empty_layer = true;
      return e;
    });
  }
  return out;
}

/** JSON as Go's json.MarshalIndent(v, "", "    ") prints it, plus a newline; `<`, `>`, `&` escaped as Go does. */
export function goJson(v: unknown): string {
  return `${JSON.stringify(v, null, 4).replace(/[<>&]/g, (ch) => `\\u00${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)}\n`;
}
