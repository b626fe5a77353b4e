// The process as an operator sees it: start on a fresh machine (embedded PostgreSQL), restart,
// wait for a database that is down, readiness, graceful shutdown.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { startEmbeddedPostgres } from '../../db/embedded.ts'
import { migrateToLatest } from '../../db/migrate.ts'
import { createDb } from '../../db/index.ts'
import { buildApp } from '../../server/app.ts'
import { createLogger } from '../../server/logger.ts'
import { openServices } from '../../server/services.ts'
import { sql } from 'kysely'
import { testConfig, testDatabase } from '../helper.ts'

const quiet = { info() {}, warn() {} }

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/** A data directory PostgreSQL's own user can reach (it runs as `postgres` when we are root). */
const pgDir = () => {
  const parent = mkdtempSync(path.join(tmpdir(), 'conveyor-pgtest-'))
  chmodSync(parent, 0o755)
  return path.join(parent, 'data')
}

interface Cli {
  child: ChildProcess
  output: () => string
  waitFor(pattern: RegExp, ms?: number): Promise<void>
  exited: Promise<number | null>
}

function cli(t: Test, args: string[], env: Record<string, string>): Cli {
  const child = spawn(process.execPath, ['server/cli.ts', ...args], {
    env: { PATH: process.env.PATH!, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return {
    child,
    output: () => out,
    exited,
    async waitFor(pattern, ms = 60_000) {
      const deadline = Date.now() + ms
      while (!pattern.test(out)) {
        if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before ${pattern}:\n${out}`)
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}

t.test('a fresh start with no database uses the embedded PostgreSQL; a restart reuses its data', async (t) => {
  const dataDir = pgDir()
  const env = {
    NODE_ENV: 'development',
    EMBEDDED_POSTGRES_DIR: dataDir,
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
    PORT: String(await freePort()),
    WORKER_THREADS: '1',
  }
  const first = cli(t, ['start'], env)
  await first.waitFor(/Conveyor .* ready/)
  t.match(first.output(), /Initialising embedded PostgreSQL/)
  t.match(first.output(), /Loaded fixture dev_demo_user\.ts/)
  const res = await fetch(`http://127.0.0.1:${env.PORT}/api/v1/version-info/`)
  t.equal(res.status, 200)
  t.same(Object.keys(await res.json() as object).sort(), ['commit', 'environment', 'version'])
  first.child.kill('SIGINT')
  t.equal(await first.exited, 0, 'Ctrl-C exits cleanly')
  t.match(first.output(), /Shutdown complete/)
  t.notOk(existsSync(path.join(dataDir, 'postmaster.pid')), 'the embedded server was stopped')

  const second = cli(t, ['start'], env)
  await second.waitFor(/Conveyor .* ready/)
  t.notMatch(second.output(), /Initialising/, 'data reused')
  t.match(second.output(), /fixtures skipped/)
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})

t.test('a stopped instance leaves no connection open: every pool is closed, none left to time out', async (t) => {
  // The engine's own pool (role all) is used only through its named-statement wrapper; it used to
  // keep its idle connections on shutdown, and the process that had said "Shutdown complete" lived on
  // until they timed out (30 s). Frozen the moment it says so, the process can close nothing more:
  // whatever it has left open shows in pg_stat_activity.
  const { url } = await testDatabase(t)
  const observer = createDb(url, { max: 1, applicationName: 'lifecycle-observer' })
  t.teardown(() => observer.destroy())
  const theirs = async () => (await sql<{ name: string }>`SELECT application_name AS name FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY 1`.execute(observer)).rows.map((r) => r.name)
  const media = await mkdtemp(path.join(tmpdir(), 'conveyor-media-'))
  t.teardown(() => rm(media, { recursive: true, force: true }))
  const app = cli(t, ['start'], { NODE_ENV: 'test', DATABASE_URL: url, MEDIA_ROOT: media, PORT: String(await freePort()), WORKER_THREADS: '1' })
  await app.waitFor(/Conveyor .* ready/)
  t.ok((await theirs()).includes('conveyor-engine'), 'running, the engine has its own pool')
  app.child.kill('SIGTERM')
  await app.waitFor(/Shutdown complete/)
  app.child.kill('SIGSTOP')
  let open = await theirs()
  // A closed connection's backend leaves the list as it exits, a moment after the client is done.
  for (let i = 0; i < 100 && open.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100))
    open = await theirs()
  }
  t.same(open, [], 'no connection left once it says "Shutdown complete"')
  app.child.kill('SIGCONT')
  t.equal(await app.exited, 0)
})

t.test('start-up waits for a database that is down, says so, and proceeds when it is up', async (t) => {
  const dir = pgDir()
  const port = await freePort()
  const pg = await startEmbeddedPostgres(dir, port, quiet)
  await pg.stop()
  const env = { NODE_ENV: 'test', DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/conveyor`, PORT: String(await freePort()), WORKER_THREADS: '1' }
  const app = cli(t, ['start'], env)
  await app.waitFor(/Waiting for PostgreSQL at 127\.0\.0\.1:\d+\/conveyor/)
  const again = await startEmbeddedPostgres(dir, port, quiet)
  t.teardown(() => again.stop())
  await app.waitFor(/Conveyor .* ready/)
  t.match(app.output(), /PostgreSQL at .* is up after/)
  app.child.kill('SIGTERM')
  t.equal(await app.exited, 0)
})

t.test('start-up gives up after DATABASE_WAIT_SECONDS with a clear message', async (t) => {
  const port = await freePort()
  const app = cli(t, ['start'], { NODE_ENV: 'test', DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none`, DATABASE_WAIT_SECONDS: '1' })
  t.equal(await app.exited, 1)
  t.match(app.output(), /Gave up waiting for PostgreSQL at 127\.0\.0\.1:\d+\/none .*DATABASE_WAIT_SECONDS=1/)
})

t.test('readiness is 503 with the reason while the database is down, 200 when it is back', async (t) => {
  const dir = pgDir()
  const port = await freePort()
  let pg = await startEmbeddedPostgres(dir, port, quiet)
  const url = `postgres://postgres@127.0.0.1:${port}/conveyor`
  const migrator = createDb(url, { max: 1 })
  await migrateToLatest(migrator)
  await migrator.destroy()
  const config = testConfig(url)
  const services = await openServices(config, createLogger(config), url)
  const app = await buildApp(services)
  t.teardown(async () => { await app.close(); await services.close(); await pg.stop() })
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  await pg.stop()
  const down = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(down.statusCode, 503)
  t.match(down.json(), { status: 'unavailable', reason: /^database: / })
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness does not depend on the database')
  pg = await startEmbeddedPostgres(dir, port, quiet)
  let ready = 0
  for (let i = 0; i < 50 && ready !== 200; i++) {
    ready = (await app.inject({ method: 'GET', url: '/readyz' })).statusCode
    if (ready !== 200) await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(ready, 200)
})

t.test('readiness is 503 while migrations are not applied', async (t) => {
  const dir = pgDir()
  const port = await freePort()
  const pg = await startEmbeddedPostgres(dir, port, quiet)
  const url = `postgres://postgres@127.0.0.1:${port}/conveyor`
  const config = testConfig(url)
  const services = await openServices(config, createLogger(config), url)
  const app = await buildApp(services)
  t.teardown(async () => { await app.close(); await services.close(); await pg.stop() })
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 503)
  t.match(res.json().reason, /^migrations not applied: 2026-11-26T0000_foundation/)
})

t.test('graceful shutdown lets an in-flight request finish and refuses new ones', async (t) => {
  const dir = pgDir()
  const port = await freePort()
  const pg = await startEmbeddedPostgres(dir, port, quiet)
  t.teardown(() => pg.stop())
  const url = `postgres://postgres@127.0.0.1:${port}/conveyor`
  const config = testConfig(url)
  const services = await openServices(config, createLogger(config), url)
  const app = await buildApp(services)
  let release!: () => void
  const started = new Promise<void>((resolve) => {
    app.get('/api/v1/test-slow/', async () => {
      resolve()
      await new Promise<void>((r) => (release = r))
      return { done: true }
    })
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const inflight = fetch(`${address}/api/v1/test-slow/`).then(async (r) => ({ status: r.status, body: await r.json() }))
  await started
  const closing = app.close()
  await new Promise((r) => setTimeout(r, 50))
  await t.rejects(fetch(`${address}/healthz`), 'new connections are refused once closing')
  release()
  t.same(await inflight, { status: 200, body: { done: true } }, 'the in-flight request completed')
  await closing
  await services.close()
})
