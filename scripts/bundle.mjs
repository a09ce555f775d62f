// Bundles the kumo command into one ESM file (dist/kumo.mjs), the `kumo` bin. Loading ~700
// separate module files (kysely and typebox are a file per class) was most of start time;
// one file starts in less than half the time.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const outfile = 'dist/kumo.mjs';
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  // Less to read and parse at every start; stack traces map back through the source map.
  minify: true,
  // Native addon, and a driver loaded only for PostgreSQL: resolved from node_modules at run time.
  external: ['better-sqlite3', 'pg'],
  // Fastify and pino are CommonJS and call require(); give the ESM bundle one.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __kumoCreateRequire } from 'node:module';\nconst require = __kumoCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
