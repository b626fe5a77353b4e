// Waits for PostgreSQL to accept connections, with backoff, saying what it waits for.
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { describeUrl } from './index.ts'

export interface WaitLogger {
  info(msg: string): void
  warn(msg: string): void
}

export interface WaitOptions {
  timeoutSeconds: number
  log: WaitLogger
  signal?: AbortSignal
}

/** Resolves once `SELECT 1` succeeds; rejects with a clear message after `timeoutSeconds`. */
export async function waitForDatabase(url: string, { timeoutSeconds, log, signal }: WaitOptions): Promise<void> {
  const started = Date.now()
  const target = describeUrl(url)
  let delay = 250
  let attempt = 0
  for (;;) {
    attempt++
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      if (attempt > 1) log.info(`PostgreSQL at ${target} is up after ${((Date.now() - started) / 1000).toFixed(1)} s`)
      return
    } catch (err) {
      const reason = (err as Error).message || (err as { code?: string }).code || String(err)
      const elapsed = (Date.now() - started) / 1000
      if (elapsed + delay / 1000 > timeoutSeconds) {
        throw new Error(`Gave up waiting for PostgreSQL at ${target} after ${Math.round(elapsed)} s (DATABASE_WAIT_SECONDS=${timeoutSeconds}): ${reason}`)
      }
      log.warn(`Waiting for PostgreSQL at ${target}: ${reason}; retrying in ${(delay / 1000).toFixed(1)} s`)
    } finally {
      await client.end().catch(() => {})
    }
    await sleep(delay, undefined, { signal })
    delay = Math.min(delay * 2, 5_000)
  }
}
