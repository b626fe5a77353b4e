// `npm run bench:create-path`: the two ways a create can write its request row and pg-boss job,
// measured in the same run, interleaved so both see the same machine: the one-statement create
// (worker/queue/job-insert.ts, the adapter over pg-boss internals) against the public API (our
// INSERT and boss.send() in one transaction). 20 concurrent callers, no HTTP, engine stopped.
// Database: TEST_DATABASE_URL (an admin connection) or postgres://postgres@127.0.0.1:5432/postgres.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createUser } from '../server/accounts/users.ts'
import { loadConfig, projectRoot } from '../server/config.ts'
import { createLogger } from '../server/logger.ts'
import { openServices } from '../server/services.ts'
import { createTemplate, dropDatabase, withDatabase } from '../test/setup/database.ts'
import { createRequest, ensureQueues, featuresOf, loadFeatures, moduleUrls } from '../worker/index.ts'

const admin = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6)
const PER_ROUND = Number(process.env.BENCH_PER_ROUND ?? 1000)
const CALLERS = 20

const name = `conveyor_bench_create_${process.pid}`
await createTemplate(admin, name)
const url = withDatabase(admin, name)
const media = await mkdtemp(path.join(tmpdir(), 'conveyor-bench-'))
const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, MEDIA_ROOT: media, LOG_LEVEL: 'warn' }, projectRoot)
const services = await openServices(config, createLogger(config), url)
try {
  const urls = moduleUrls(config.featureModules)
  await loadFeatures(urls)
  await ensureQueues(services.boss, featuresOf(urls), config)
  const owner = await createUser(services.db, { email: 'bench@example.com', password: 'a long enough passphrase', emailVerified: true })

  async function round(publicApiOnly: boolean): Promise<{ perSecond: number; cpuMs: number }> {
    let next = 0
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await Promise.all(Array.from({ length: CALLERS }, async () => {
      while (next++ < PER_ROUND) {
        await createRequest(services.db, services.boss, { ownerId: owner.id, feature: 'text-stats', input: { text: 'a short text' }, publicApiOnly })
      }
    }))
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    return { perSecond: PER_ROUND / seconds, cpuMs: (cpu.user + cpu.system) / 1000 / PER_ROUND }
  }

  const results = { adapter: [] as { perSecond: number; cpuMs: number }[], send: [] as { perSecond: number; cpuMs: number }[] }
  await round(false) // warm up both paths (prepared statements, JIT)
  await round(true)
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which goes first, so a trend in the machine's load favours neither.
    for (const path of i % 2 === 0 ? ['adapter', 'send'] as const : ['send', 'adapter'] as const) {
      results[path].push(await round(path === 'send'))
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const a = median(results.adapter.map((r) => r.perSecond))
  const s = median(results.send.map((r) => r.perSecond))
  console.log(`creates/s, ${CALLERS} callers, ${ROUNDS} interleaved rounds of ${PER_ROUND} (medians):`)
  console.log(`  one statement (adapter):  ${a.toFixed(0)}/s, Node CPU ${median(results.adapter.map((r) => r.cpuMs)).toFixed(2)} ms per create`)
  console.log(`  public send() in a trx:   ${s.toFixed(0)}/s, Node CPU ${median(results.send.map((r) => r.cpuMs)).toFixed(2)} ms per create`)
  console.log(`  ratio adapter / send:     ${(a / s).toFixed(2)}`)
} finally {
  await services.close()
  await dropDatabase(admin, name).catch(() => {})
  await rm(media, { recursive: true, force: true })
}
