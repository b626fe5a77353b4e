// The production build: server/, worker/, db/ and seeds/ bundled into dist/ (scripts/build-server.ts)
// and run from there — migrations, fixtures, the feature files, the thread entry and the password
// list found by path or URL in their compiled places (db/source.ts), code shared between entry
// points in dist/chunks/ (one copy of each module), no TypeScript loaded at run time.
import { existsSync, readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { featureModules } from '../../worker/features/index.ts'
import { moduleUrl, projectRoot } from '../../db/source.ts'
import { testDatabase } from '../helper.ts'
import { productionEnv, root, runNode } from './support.ts'

const dist = path.join(root, 'dist')
/** What scripts/build-server.ts writes: esbuild's metafile (paths relative to the project root). */
interface Meta { outputs: Record<string, { entryPoint?: string; imports: { path: string; kind: string; external?: boolean }[]; inputs: Record<string, unknown> }> }
const meta = (): Meta => JSON.parse(readFileSync(path.join(dist, 'build-meta.json'), 'utf8')) as Meta

t.before(async () => {
  const build = runNode(['scripts/build-server.ts'], {})
  if (await build.exited !== 0) throw new Error(`build:server failed:\n${build.output()}`)
})

t.test('dist/ holds JavaScript only, plus the data files the code reads', async (t) => {
  const files = (await readdir(dist, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.relative(dist, path.join(e.parentPath, e.name)))
  t.same(files.filter((f) => f.endsWith('.ts')), [], 'no .ts file')
  t.ok(files.includes(path.join('server', 'accounts', 'data', 'common-passwords.txt.gz')), 'the common-password list is copied')
  t.ok(files.some((f) => f.startsWith(path.join('db', 'migrations')) && f.endsWith('.js')), 'migrations are compiled')
  t.notOk(files.some((f) => f.startsWith('test')), 'no tests')
})

t.test('every module loaded by path or URL is an entry point at its compiled place', async (t) => {
  t.ok(featureModules.length >= 2)
  for (const url of featureModules) {
    const compiled = path.join(dist, path.relative(root, fileURLToPath(url)).replace(/\.ts$/, '.js'))
    t.ok(existsSync(compiled), `${path.relative(root, compiled)} exists`)
  }
  for (const f of await readdir(path.join(root, 'db', 'migrations'))) {
    if (f.endsWith('.ts')) t.ok(existsSync(path.join(dist, 'db', 'migrations', f.replace(/\.ts$/, '.js'))), `migration ${f} compiled`)
  }
  for (const f of ['server/cli.js', 'server/dashboard.js', 'worker/threads/thread.js', 'seeds/010_maintenance_schedules.js']) {
    t.ok(existsSync(path.join(dist, f)), `${f} exists`)
  }
  t.equal(projectRoot, root, 'the project root is the folder with package.json, not dist/')
  t.equal(moduleUrl('./thread.ts', pathToFileURL(path.join(dist, 'worker', 'pool.js'))).pathname, path.join(dist, 'worker', 'thread.js'))
  t.equal(moduleUrl('./thread.ts', pathToFileURL(path.join(root, 'worker', 'pool.ts'))).pathname, path.join(root, 'worker', 'thread.ts'), 'from source, the .ts file')
})

t.test('shared modules exist once; a thread loads no HTTP or database code at start', async (t) => {
  const { outputs } = meta()
  // The feature registry is one module instance per isolate only if its code is in one file.
  const registry = Object.keys(outputs).filter((o) => 'worker/features/registry.ts' in outputs[o]!.inputs)
  t.same(registry.length, 1, 'the feature registry is in one file')
  t.match(registry[0], /^dist\/chunks\//, 'in a chunk shared by the entry points')
  // What a thread imports before its first job: its entry and the ordinary features' files, and
  // what they import statically (a dynamic import, the database client's, waits for a system job).
  const loaded = new Set<string>()
  const visit = (output: string) => {
    if (loaded.has(output)) return
    loaded.add(output)
    for (const i of outputs[output]!.imports) if (i.kind === 'import-statement' && !i.external) visit(i.path)
  }
  for (const entry of ['worker/threads/thread.ts', 'worker/features/text-stats.ts', 'worker/features/csv-profile.ts']) {
    const output = Object.keys(outputs).find((o) => outputs[o]!.entryPoint === entry)
    t.ok(output, `${entry} is an entry point`)
    visit(output!)
  }
  const inputs = [...loaded].flatMap((o) => Object.keys(outputs[o]!.inputs))
  for (const pkg of ['fastify', 'kysely', 'pg', 'pg-boss', 'ajv']) {
    t.same(inputs.filter((i) => i.startsWith(`node_modules/${pkg}/`)), [], `a thread loads nothing of ${pkg}`)
  }
  t.ok(inputs.some((i) => i.startsWith('node_modules/@sinclair/typebox/')), 'but the features\' schema builder')
})

t.test('the compiled server starts, loads the fixtures, starts its job thread and checks passwords', async (t) => {
  const { url } = await testDatabase(t)
  const env = productionEnv({ DATABASE_URL: url, HOST: '127.0.0.1', PORT: '0', WORKER_THREADS: '1', LOG_LEVEL: 'info', ALLOWED_HOSTS: '127.0.0.1' })
  // Type stripping off: any .ts module loaded at run time would fail the start.
  const child = runNode(['--no-experimental-strip-types', 'dist/server/cli.js', 'start'], env)
  t.teardown(async () => {
    if (child.process.exitCode === null) child.process.kill('SIGKILL')
    await child.exited
  })
  const [, base] = await child.waitFor(/ready: (http:\/\/127\.0\.0\.1:\d+)/)
  t.match(child.output(), /Loaded fixture 010_maintenance_schedules\.js/, 'the compiled fixture is loaded')
  const ready = await fetch(`${base}/readyz`)
  t.match(await ready.json(), { status: 'ok', engine: { threads: 1, alive: 1 } }, 'the compiled thread started')

  const register = await fetch(`${base}/api/v1/auth/registration/`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'compiled@example.com', password1: 'password123', password2: 'password123' }),
  })
  t.equal(register.status, 400)
  t.match(await register.json(), { password1: ['This password is too common.'] }, 'the password list is read from dist/')

  child.process.kill('SIGTERM')
  t.equal(await child.exited, 0)
  t.notMatch(child.output(), /ERR_UNKNOWN_FILE_EXTENSION|\.ts\b/, 'no TypeScript was asked for')
})
