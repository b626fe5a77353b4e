// The production build: server/, worker/, db/ and seeds/ compile to dist/ and run from there —
// migrations, fixtures, the feature registry, the thread entry and the password list found by
// path or URL in their compiled places (db/source.ts), no TypeScript loaded at run time.
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { testDatabase } from '../helper.ts'
import { productionEnv, root, runNode } from './support.ts'

const dist = path.join(root, 'dist')

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

t.test('the compiled feature registry and thread entry name compiled files that exist', async (t) => {
  const { featureModules } = await import(pathToFileURL(path.join(dist, 'worker', 'features', 'index.js')).href) as { featureModules: URL[] }
  t.ok(featureModules.length >= 2)
  for (const url of featureModules) {
    t.match(url.pathname, /\/dist\/worker\/features\/[\w-]+\.js$/)
    t.ok(existsSync(fileURLToPath(url)), `${url.pathname} exists`)
  }
  const { moduleUrl, projectRoot } = await import(pathToFileURL(path.join(dist, 'db', 'source.js')).href) as typeof import('../../db/source.ts')
  t.equal(projectRoot, root, 'the project root is the folder with package.json, not dist/')
  t.equal(moduleUrl('./thread.ts', pathToFileURL(path.join(dist, 'worker', 'pool.js'))).pathname, path.join(dist, 'worker', 'thread.js'))
  t.equal(moduleUrl('./thread.ts', pathToFileURL(path.join(root, 'worker', 'pool.ts'))).pathname, path.join(root, 'worker', 'thread.ts'), 'from source, the .ts file')
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
