// A child process for LS-09: node --experimental-strip-types copy-worker.ts <storeRoot> <from> <to>
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { copyImage } from '../../../shared/transport/copy-image.ts';
import { openSource, openTarget } from '../../../shared/transport/open.ts';

const [storeRoot, from, to] = process.argv.slice(2);
const ctx = { storeRoot: storeRoot!, registry: {} };
const src = await openSource(parseImageName(from!), ctx);
const dst = await openTarget(parseImageName(to!), ctx);
try {
  const r = await copyImage(src, dst);
  process.stdout.write(`copied ${r.digest}\n`);
} finally {
  await dst.close();
  await src.close();
}
