import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // the peers (podman, buildah, skopeo) read this file instead of the machine's /etc/containers
    env: { CONTAINERS_CONF: fileURLToPath(new URL('./test/fixtures/containers.conf', import.meta.url)) },
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
