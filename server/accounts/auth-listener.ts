// The LISTEN connection that keeps the session cache honest: every instance drops an entry the
// moment any instance announces a change (sessions.ts notifyAuthChange). While the connection is
// down the cache is flushed and bypassed, so a missed announcement can never leave a revoked key working.
import pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { SessionCache } from './session-cache.ts'
import { AUTH_CHANNEL, type AuthChange } from './sessions.ts'

function parseChange(payload: string | undefined): AuthChange | null {
  try {
    const value = JSON.parse(payload ?? '') as AuthChange
    return value && typeof value === 'object' ? value : null
  } catch {
    return null
  }
}

export interface AuthListener {
  /** Settles after the first connection attempt, whatever its outcome. */
  ready: Promise<void>
  close(): Promise<void>
}

export interface ListenerOptions {
  url: string
  cache: SessionCache
  log: Pick<FastifyBaseLogger, 'warn'>
  /** Between a failed connection and the next try; doubles up to maxRetryMs. */
  retryMs?: number
  maxRetryMs?: number
  /** A silently dead connection (no FIN) is found by this periodic query. */
  heartbeatMs?: number
}

/** Keeps one dedicated connection LISTENing on the auth channel, reconnecting for as long as the app runs. */
export function startAuthListener(options: ListenerOptions): AuthListener {
  const { url, cache, log } = options
  const baseRetry = options.retryMs ?? 250
  const maxRetry = options.maxRetryMs ?? 5_000
  const heartbeatMs = options.heartbeatMs ?? 10_000
  let client: pg.Client | null = null
  let stopped = false
  let retry = baseRetry
  let timer: NodeJS.Timeout | undefined
  let heartbeat: NodeJS.Timeout | undefined
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))

  function lost(c: pg.Client, err?: Error): void {
    if (client !== c) return
    client = null
    clearInterval(heartbeat)
    cache.setLive(false)
    c.end().catch(() => {})
    if (stopped) return
    log.warn({ err }, `auth listener disconnected: session cache bypassed; reconnecting in ${retry} ms`)
    timer = setTimeout(connect, retry)
    retry = Math.min(retry * 2, maxRetry)
  }

  async function connect(): Promise<void> {
    if (stopped) return
    const c = new pg.Client({ connectionString: url, application_name: 'conveyor-auth-listener', keepAlive: true, connectionTimeoutMillis: 5_000 })
    client = c
    c.on('error', (err) => lost(c, err))
    c.on('end', () => lost(c))
    c.on('notification', (msg) => {
      const change = msg.channel === AUTH_CHANNEL ? parseChange(msg.payload) : null
      if (change) cache.forget(change)
      else cache.flush() // an announcement we cannot read: drop everything rather than guess
    })
    try {
      await c.connect()
      await c.query(`LISTEN ${AUTH_CHANNEL}`)
      if (client !== c || stopped) return
      retry = baseRetry
      cache.setLive(true) // flushes: anything announced while we were away is forgotten
      heartbeat = setInterval(() => {
        c.query({ text: 'SELECT 1', query_timeout: 5_000 } as pg.QueryConfig).catch((err: Error) => lost(c, err))
      }, heartbeatMs).unref()
    } catch (err) {
      lost(c, err as Error)
    } finally {
      markReady()
    }
  }

  void connect()
  return {
    ready,
    async close() {
      stopped = true
      clearTimeout(timer)
      clearInterval(heartbeat)
      cache.setLive(false)
      const c = client
      client = null
      await c?.end().catch(() => {})
    },
  }
}
