// Test helper: runs one build in a child process (for SIGKILL tests). argv[2] is a JSON BuildOptions subset.
import { buildImage } from '../../../shared/build/executor/build.ts';
import { createReporter } from '../../../shared/build/executor/report.ts';

const o = JSON.parse(process.argv[2]!) as { storeRoot: string; contextDir: string; text: string; tags: string[]; runcRoot: string };
const r = await buildImage({ storeRoot: o.storeRoot, contextDir: o.contextDir, dockerfile: { text: o.text }, tags: o.tags, runcRoot: o.runcRoot, reporter: createReporter('plain', process.stderr) });
process.stdout.write(`${r.id}\n`);
