// Shared by the deployment tests: the environment of a production-profile app, free ports, and
// a child process of Conveyor (or the dashboard) whose output can be waited on.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import path from 'node:path'

export const root = path.resolve(import.meta.dirname, '..', '..')
export const NODE = path.join(root, 'node_modules', '.bin', 'node')

/** What production requires (a real SECRET_KEY, ALLOWED_HOSTS, a public URL, mail), on top of the test database. */
export function productionEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    SECRET_KEY: randomBytes(32).toString('base64'),
    ALLOWED_HOSTS: 'conveyor.example.org,127.0.0.1,localhost',
    FRONTEND_URL: 'https://conveyor.example.org',
    SMTP_URL: 'smtp://127.0.0.1:2525',
    LOG_LEVEL: 'silent',
    ...env,
  }
}

/** A port free right now (for servers that cannot listen on 0 and say which port they got). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

export interface Child {
  process: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Resolves with the first match of `pattern` in the output; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>
}

/** Runs `node <args>` in the project with exactly `env` (plus PATH), collecting its output. */
export function runNode(args: string[], env: Record<string, string>): Child {
  const child = spawn(NODE, args, { cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const waiters = new Set<() => void>()
  const onData = (d: Buffer) => {
    out += d
    for (const w of waiters) w()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => {
    resolve(code ?? signal ?? -1)
    for (const w of waiters) w()
  }))
  return {
    process: child,
    output: () => out,
    exited,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out)
          if (m) {
            waiters.delete(check)
            resolve(m)
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(check)
            reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${out}`))
          }
        }
        waiters.add(check)
        check()
      })
    },
  }
}
