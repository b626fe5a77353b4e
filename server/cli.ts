// Conveyor's command line: `start` (default), `migrate`, `seed`, `createsuperuser`; `--role api|worker|all`.
import { enableCompileCache } from 'node:module'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, readEnv, type Config } from './config.ts'
import { createLogger, type Logger } from './logger.ts'

// V8's code cache on disk (under os.tmpdir(), keyed by each file's content): from the second start
// on, what is imported after this line is not compiled (nor, for .ts sources, type-stripped) again.
// So nearly everything is imported after it: start.ts brings the database, the engine and, from
// start(), the HTTP app. Measured, .ts sources, 2 threads: CPU to /readyz 1340 -> 1070 ms (median of 5).
const cache = enableCompileCache()
// The worker threads turn theirs on from the environment they inherit.
if (cache.directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = cache.directory
const { connectDatabase, ensureSuperuser, migrate, start, withDb } = await import('./start.ts')
const { runSetup } = await import('../seeds/index.ts')
const { ask, askHidden } = await import('./prompt.ts')

const USAGE = `Usage: node server/cli.ts [command] [options]

Commands:
  start              run Conveyor (default): migrate, one-time setup, then the roles
  migrate            apply database migrations and exit
  seed               run the one-time setup (fixtures in seeds/) if it has not run yet
  createsuperuser    create or update a superuser (--email, --password; or ADMIN_EMAIL/ADMIN_PASSWORD)

Options:
  --role api|worker|all   which parts to run (default: ROLE or all)
  --email, --password     for createsuperuser
  -h, --help              show this help`

/** Runs a one-shot command against the database (starting the embedded one if needed). */
async function oneShot(config: Config, log: Logger, fn: (url: string) => Promise<void>): Promise<void> {
  const database = await connectDatabase(config, log)
  try {
    await fn(database.url)
  } finally {
    await database.embedded?.stop()
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const command = positionals[0] ?? 'start'
  if (values.help || !['start', 'migrate', 'seed', 'createsuperuser'].includes(command) || positionals.length > 1) {
    console.log(USAGE)
    return values.help ? 0 : 2
  }
  const env = readEnv()
  if (values.role) env.ROLE = values.role

  let config: Config
  try {
    config = loadConfig(env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    for (const problem of err.problems) console.error(`config error: ${problem}`)
    return 2
  }
  const log = createLogger(config)

  switch (command) {
    case 'migrate':
      await oneShot(config, log, (url) => migrate(url, log))
      return 0
    case 'seed':
      await oneShot(config, log, async (url) => {
        await migrate(url, log)
        await withDb(url, (db) => runSetup(db, { config, log }))
      })
      return 0
    case 'createsuperuser': {
      const tty = Boolean(process.stdin.isTTY)
      const email = values.email ?? config.admin?.email ?? (tty ? await ask('E-mail: ') : '')
      let password = values.password ?? config.admin?.password ?? ''
      if (!password && tty) {
        // Typed, not echoed, and typed twice (as Django's createsuperuser), since it cannot be seen.
        password = await askHidden('Password: ')
        if (password && (await askHidden('Password (again): ')) !== password) {
          console.error('createsuperuser: the two passwords do not match')
          return 2
        }
      }
      if (!email || !password) {
        console.error('createsuperuser: --email and --password (or ADMIN_EMAIL and ADMIN_PASSWORD) are required')
        return 2
      }
      await oneShot(config, log, async (url) => {
        await migrate(url, log)
        await withDb(url, (db) => ensureSuperuser({ db, log }, { email, password }))
      })
      return 0
    }
    default:
      return serve(config, log)
  }
}

async function serve(config: Config, log: Logger): Promise<number> {
  const running = await start(config, log)
  return new Promise((resolve) => {
    let firstSignalAt = 0
    const onSignal = (signal: NodeJS.Signals) => {
      // npm forwards the terminal's Ctrl-C to us as well: one keypress may arrive twice at once.
      if (firstSignalAt && Date.now() - firstSignalAt < 1_000) return
      if (firstSignalAt) {
        log.warn(`${signal} again: exiting without waiting`)
        process.exit(1)
      }
      firstSignalAt = Date.now()
      log.info(`${signal} received`)
      running.stop().then(() => resolve(0), (err) => {
        log.error({ err }, 'shutdown failed')
        resolve(1)
      })
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    console.error(`conveyor: ${err instanceof Error ? err.message : String(err)}`)
    if (process.env.LOG_LEVEL === 'debug' && err instanceof Error) console.error(err.stack)
    process.exitCode = 1
  },
)
