// The test run's copies of the dependencies made of hundreds of small ES modules, each bundled into
// one file (as `npm run build:server` bundles them for production), and the hook that makes every
// process and worker thread of the run import those instead (test/setup/bundled-deps-hook.mjs).
//
// Why: a test process resolves, reads and links ~1,370 modules before its first test; kysely (257)
// and TypeBox (247) are over a third of them, and TypeBox is 247 of the 265 a worker thread loads.
// Measured on this machine, importing kysely costs 171 ms of CPU and TypeBox 114 ms; bundled, 17
// and 7. A run starts ~75 test processes, ~190 worker threads and dozens of CLI instances.
//
// One bundle per package holds every entry point of it the code imports (a package's entry points
// share state: TypeBox's FormatRegistry, set through '@sinclair/typebox', is the one
// '@sinclair/typebox/value' checks), and each entry point is a small module re-exporting its part.
// Bundles are made once per version of the packages, of esbuild and of this file, and kept in
// node_modules/.cache.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** Each bundled package and the entry points of it the code imports (one more fails loudly, see the hook). */
export const BUNDLED: Record<string, string[]> = {
  kysely: ['kysely', 'kysely/migration'],
  '@sinclair/typebox': ['@sinclair/typebox', '@sinclair/typebox/value'],
  'pg-boss': ['pg-boss', 'pg-boss/dist/plans.js'],
  // pg-boss's tracing API (102 modules).
  '@opentelemetry/api': ['@opentelemetry/api'],
}
// Only imports are redirected: a require() of these packages (prom-client's of
// @opentelemetry/api) gets their CommonJS build, a copy of its own, as in production's bundle.

/** The environment variable through which the hook gets the specifier → file URL map. */
export const BUNDLED_DEPS_ENV = 'CONVEYOR_TEST_BUNDLED_DEPS'

/**
 * Makes (or finds, in the cache) the bundles for `root`'s installed packages, and returns the map
 * the hook reads: every listed specifier to the file URL of its module.
 */
export async function prepareBundledDeps(root: string): Promise<Record<string, string>> {
  const version = (pkg: string) => (JSON.parse(readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version
  const esbuild = await import('esbuild')
  // What the bundles are made of and how: the packages' and esbuild's versions and this file
  // (its BUNDLED list and the code that writes them).
  const key = createHash('sha256')
    .update(JSON.stringify([esbuild.version, Object.keys(BUNDLED).map((p) => [p, version(p)])]))
    .update(readFileSync(import.meta.filename))
    .digest('hex').slice(0, 16)
  const cache = path.join(root, 'node_modules', '.cache', 'conveyor-test-deps')
  const dir = path.join(cache, key)
  const map: Record<string, string> = {}
  const file = (pkg: string, i: number) => path.join(dir, pkg.replace('/', '+'), `entry-${i}.mjs`)
  for (const [pkg, entries] of Object.entries(BUNDLED)) entries.forEach((e, i) => { map[e] = pathToFileURL(file(pkg, i)).href })
  if (existsSync(path.join(dir, 'complete'))) return map

  const building = `${dir}.${process.pid}`
  rmSync(building, { recursive: true, force: true })
  for (const [pkg, entries] of Object.entries(BUNDLED)) {
    const out = path.join(building, pkg.replace('/', '+'))
    mkdirSync(out, { recursive: true })
    // Resolved as an ES module import would resolve them (the packages' "import" conditions).
    const resolved = entries.map((e) => fileURLToPath(import.meta.resolve(e, pathToFileURL(path.join(root, 'package.json')).href)))
    await esbuild.build({
      stdin: { contents: resolved.map((f, i) => `export * as e${i} from ${JSON.stringify(f)}`).join('\n'), resolveDir: root, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      // Any other package it imports stays the installed one.
      packages: 'external',
      outfile: path.join(out, 'bundle.mjs'),
      logLevel: 'warning',
    })
    for (const [i, entry] of entries.entries()) {
      // The names come from the real module; the values from the bundle.
      const names = Object.keys(await import(entry))
      writeFileSync(path.join(out, `entry-${i}.mjs`), [
        `// ${entry}, from the bundle of ${pkg} (test/setup/bundled-deps.ts)`,
        `import { e${i} as ns } from './bundle.mjs'`,
        `const { ${names.map((n, j) => `${JSON.stringify(n)}: v${j}`).join(', ')} } = ns`,
        `export { ${names.map((n, j) => `v${j} as ${JSON.stringify(n)}`).join(', ')} }`,
        '',
      ].join('\n'))
    }
  }
  writeFileSync(path.join(building, 'complete'), '')
  // Into place in one rename; a run that got there first (two runs at once) keeps its copy, in use.
  try {
    renameSync(building, dir)
  } catch (err) {
    if (!existsSync(path.join(dir, 'complete'))) throw err
    rmSync(building, { recursive: true, force: true })
  }
  // Bundles of other versions, and builds a killed run left, once nothing can be using them.
  for (const old of readdirSync(cache)) {
    const p = path.join(cache, old)
    try {
      if (old !== key && Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true })
    } catch {} // removed meanwhile by another run
  }
  return map
}
