import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's python3 (with python3-kubernetes); PATH may lead to another python without the module. */
export const PYTHON = '/usr/bin/python3';

/** Whether Debian's python3-kubernetes is importable. */
export const hasKubernetesClient = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import kubernetes'], { encoding: 'utf8' }).status === 0;

// Each document is deserialized into its API model (client-side validation on: a missing required field raises)
// and serialized back: a field the model does not know would be dropped, so the two must be equal.
const VALIDATE = `
import json, sys, yaml
from kubernetes import client
api = client.ApiClient()
assert client.Configuration.get_default_copy().client_side_validation
models = {('v1', 'Pod'): 'V1Pod', ('v1', 'Service'): 'V1Service', ('v1', 'PersistentVolumeClaim'): 'V1PersistentVolumeClaim'}
class R:
    def __init__(self, d): self.data = json.dumps(d)
out = []
for doc in yaml.safe_load_all(sys.stdin):
    m = models[(doc['apiVersion'], doc['kind'])]
    obj = api.deserialize(R(doc), m)
    back = api.sanitize_for_serialization(obj)
    if back != doc:
        raise SystemExit('%s %s does not round-trip: %s != %s' % (doc['kind'], doc['metadata']['name'], json.dumps(back), json.dumps(doc)))
    out.append('%s/%s' % (type(obj).__name__, obj.metadata.name))
print(' '.join(out))
`;

/** Validates YAML documents with the Kubernetes API models; returns `V1Pod/name …` or throws python's error. */
export function validateWithKubernetesModels(yaml: string): string {
  const r = spawnSync(PYTHON, ['-c', VALIDATE], { input: yaml, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3-kubernetes rejected the YAML: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * What a container sees of its configuration, as one string: an env variable, its ids, its capability sets,
 * its cgroup memory limit, whether /h is read-only, and what /h/f and /data hold.
 */
export const FACTS = [
  'echo GREETING=$GREETING',
  'id',
  'grep -E "^Cap(Bnd|Eff|Prm)" /proc/self/status',
  'echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)',
  'echo h=$(cat /h/f 2>&1)',
  '(touch /h/probe 2>/dev/null && echo h-rw) || echo h-ro',
  'test -d /data && echo data-mounted',
].join('; ');
