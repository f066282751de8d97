// Runs attachNetwork / detachNetwork in pasta mode as the (ordinary) user the test switches to.
// Usage: node worker.mjs attach ROOT ID PID PUBLISH | detach ROOT ID STATE_JSON
import { attachNetwork, detachNetwork } from '../../../shared/network/attach.ts';
import { parsePublish } from '../../../shared/network/publish.ts';

const [cmd, root, id, a, b] = process.argv.slice(2);
try {
  if (cmd === 'attach') {
    const state = await attachNetwork(id!, { mode: 'pasta', ports: parsePublish(b!), hostname: 'p' }, { root: root!, rootless: true, pid: Number(a) });
    process.stdout.write(JSON.stringify(state));
  } else {
    await detachNetwork(id!, JSON.parse(a!), { root: root!, rootless: true });
  }
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 3;
}
