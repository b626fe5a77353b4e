// `npm run bench:auth`: what authentication costs. Starts the real app on a real port, on a fresh
// database, in a worker thread (its own core), and loads it with autocannon from this thread:
// GET /api/v1/auth/user/ with a key, versus a route giving the same response without auth.
// Also times app.authenticate() alone (cache hit and miss). Database: TEST_DATABASE_URL, else the
// machine's postgres://postgres@127.0.0.1:5432/postgres. BENCH_SECONDS: seconds of load per route (10).
import { createRequire } from 'node:module'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { buildApp } from '../server/app.ts'
import { loadConfig, projectRoot } from '../server/config.ts'
import { createLogger } from '../server/logger.ts'
import { openServices, type Services } from '../server/services.ts'
import { UserSchema } from '../server/schemas/users.ts'
import { createSession } from '../server/accounts/sessions.ts'
import { createUser, findUserByEmail, toUserResponse } from '../server/accounts/users.ts'
import { adminQuery, createTemplate, withDatabase } from '../test/setup/database.ts'

interface LoadResult {
  requests: { average: number; total: number }
  duration: number
  latency: { p50: number; p99: number }
  non2xx: number
  errors: number
  timeouts: number
}
type Autocannon = (options: { url: string; connections: number; duration: number; headers?: Record<string, string> }) => Promise<LoadResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

const NO_AUTH_PATH = '/bench/user-without-auth/'
const BENCH_EMAIL = 'bench@example.com'

function benchConfig(url: string) {
  return loadConfig({
    NODE_ENV: 'production', DATABASE_URL: url, ROLE: 'api', HOST: '127.0.0.1', PORT: '0',
    SECRET_KEY: 'bench-secret-key-bench-secret-key-0123456789', ALLOWED_HOSTS: '127.0.0.1,localhost', FRONTEND_URL: 'http://127.0.0.1', EMAIL_BACKEND: 'log',
    // Per-request access logs would cost more than what is measured; warnings still show.
    LOG_LEVEL: 'warn',
  }, projectRoot)
}

/** The app as `npm start --role api` builds it, plus one route with the same response and no auth. */
async function startApp(url: string): Promise<{ app: FastifyInstance; services: Services; key: string }> {
  const config = benchConfig(url)
  const services = await openServices(config, createLogger(config), url)
  const app = await buildApp(services)
  const user = await findUserByEmail(services.db, BENCH_EMAIL)
    ?? await createUser(services.db, { email: BENCH_EMAIL, password: 'bench passphrase long enough', name: 'Bench User', emailVerified: true })
  const fixed = { ...user }
  app.get(NO_AUTH_PATH, { schema: { hide: true, response: { 200: UserSchema } } }, async () => toUserResponse(fixed))
  await app.ready()
  const session = await createSession(services.db, user.id, config.tokenTtlSeconds)
  return { app, services, key: app.issueToken(session) }
}

// ---- worker thread: the server ----
if (!isMainThread) {
  const { app, key } = await startApp(workerData.url as string)
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  parentPort!.postMessage({ address, key })
  parentPort!.once('message', () => void app.close().then(() => process.exit(0)))
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Median wall time of one app.authenticate() call, in microseconds. */
async function timeAuthenticate(app: FastifyInstance, key: string, iterations: number, warm: boolean): Promise<number> {
  const reply = {} as FastifyReply
  const times: number[] = []
  for (let i = 0; i < iterations; i++) {
    const request = { headers: { authorization: `Bearer ${key}` }, cookies: {}, method: 'GET', user: null } as unknown as FastifyRequest
    if (!warm) app.sessionCache.flush()
    const start = process.hrtime.bigint()
    await app.authenticate(request, reply)
    times.push(Number(process.hrtime.bigint() - start) / 1000)
  }
  return median(times)
}

async function load(address: string, path: string, seconds: number, headers: Record<string, string> = {}): Promise<LoadResult> {
  const result = await autocannon({ url: `${address}${path}`, connections: 50, duration: seconds, headers })
  if (result.non2xx || result.errors || result.timeouts) throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`)
  return result
}

/** Requests per second over all slices, and the median slice's p50 and p99 latencies. */
function summarise(runs: LoadResult[]): { rps: number; p50: number; p99: number } {
  const total = runs.reduce((n, r) => n + r.requests.total, 0)
  const time = runs.reduce((n, r) => n + r.duration, 0)
  return { rps: total / time, p50: median(runs.map((r) => r.latency.p50)), p99: median(runs.map((r) => r.latency.p99)) }
}

async function main(): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const seconds = Number(process.env.BENCH_SECONDS ?? 10)
  const name = `conveyor_bench_${process.pid}`
  await createTemplate(adminUrl, name) // a fresh, migrated database
  const url = withDatabase(adminUrl, name)
  try {
    // 1. The cost of authenticate() alone, in this thread, on a separate instance of the app.
    const local = await startApp(url)
    await timeAuthenticate(local.app, local.key, 2_000, true) // warm-up
    const hitUs = await timeAuthenticate(local.app, local.key, 20_000, true)
    const missUs = await timeAuthenticate(local.app, local.key, 500, false)
    await local.app.close()
    await local.services.close()

    // 2. Throughput of the real server (in a worker thread) under autocannon.
    const worker = new Worker(new URL(import.meta.url), { workerData: { url } })
    const { address, key } = await new Promise<{ address: string; key: string }>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    const auth = { authorization: `Bearer ${key}` }
    await load(address, '/api/v1/auth/user/', 2, auth) // warm-up (JIT, pools, cache)
    await load(address, NO_AUTH_PATH, 2)
    // One-second slices in A-B-B-A order: a load that drifts (other processes on the machine)
    // weighs on both routes alike.
    const withAuth: LoadResult[] = []
    const without: LoadResult[] = []
    for (let i = 0; i < seconds; i++) {
      const runs = i % 2 === 0 ? ['auth', 'bare'] : ['bare', 'auth']
      for (const run of runs) {
        if (run === 'auth') withAuth.push(await load(address, '/api/v1/auth/user/', 1, auth))
        else without.push(await load(address, NO_AUTH_PATH, 1))
      }
    }
    worker.postMessage('stop')
    await new Promise((resolve) => worker.once('exit', resolve))

    const a = summarise(withAuth)
    const b = summarise(without)
    const rpsAuth = a.rps
    const rpsBare = b.rps
    const bareUs = 1e6 / rpsBare // server time per request of the route without auth (one thread, saturated)
    const lines = [
      `authenticate() median: ${hitUs.toFixed(1)} µs with the session cached, ${missUs.toFixed(0)} µs on a cache miss (database lookup)`,
      `route without auth: ${bareUs.toFixed(1)} µs per request at saturation; cached authentication adds ${((hitUs / bareUs) * 100).toFixed(1)}% of that`,
      `GET /api/v1/auth/user/ with auth:    ${rpsAuth.toFixed(0)} req/s (p50 ${a.p50} ms, p99 ${a.p99} ms)`,
      `same response without auth:          ${rpsBare.toFixed(0)} req/s (p50 ${b.p50} ms, p99 ${b.p99} ms)`,
      `ratio: ${(rpsAuth / rpsBare).toFixed(2)}x (targets: >= 3500 req/s and >= 0.6x)`,
    ]
    console.log(lines.join('\n'))
  } finally {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  }
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
