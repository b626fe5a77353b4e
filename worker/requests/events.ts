// Live request events: ONE LISTEN connection per process (pg-boss's reconnecting listener) on the
// channel the processing_requests trigger notifies, fanned out in memory to SSE streams and the engine.
// The same channel carries the attempts' log lines ({"log": …}) and queue-control changes ({"settings": …}).
import type { PgBoss } from 'pg-boss'
import type { Logger as Pino } from 'pino'
import type { StatusFields } from '../../db/types.ts'

type Logger = Pick<Pino, 'error' | 'warn'>

export const REQUESTS_CHANNEL = 'conveyor_requests'

/** The trigger's payload: the status fields plus the owner. */
export interface RequestEvent extends StatusFields { owner_id: number }

type Listener = (event: RequestEvent) => void

/** One log line of an attempt, as stored (worker/engine/job-log.ts) and announced on the same channel. */
export interface LogEvent {
  request_id: string
  attempt: number
  /** 1, 2, … within the attempt; 0 is the marker line saying how many earlier lines were dropped. */
  seq: number
  at: string
  level: 'info' | 'warn' | 'error'
  message: string
}

/** A feature's queue controls changed (worker/monitoring/feature-settings.ts). */
export interface SettingsEvent { feature: string; paused: boolean; concurrency: number | null }

export class RequestEvents {
  readonly #byId = new Map<string, Set<Listener>>()
  readonly #all = new Set<Listener>()
  readonly #resync = new Set<() => void>()
  readonly #logs = new Map<string, Set<(line: LogEvent) => void>>()
  readonly #settings = new Set<(event: SettingsEvent) => void>()

  /** Events of one request; returns the unsubscribe function. */
  subscribe(id: string, listener: Listener): () => void {
    let set = this.#byId.get(id)
    if (!set) this.#byId.set(id, (set = new Set()))
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.#byId.get(id) === set) this.#byId.delete(id)
    }
  }

  /** Log lines of one request, in the order they were stored; returns the unsubscribe function. */
  subscribeLogs(id: string, listener: (line: LogEvent) => void): () => void {
    let set = this.#logs.get(id)
    if (!set) this.#logs.set(id, (set = new Set()))
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.#logs.get(id) === set) this.#logs.delete(id)
    }
  }

  /** Queue-control changes (the engine: a resumed feature or a raised limit is fetched at once). */
  onSettings(listener: (event: SettingsEvent) => void): () => void {
    this.#settings.add(listener)
    return () => this.#settings.delete(listener)
  }

  /** A notification of the channel: a status change, a log line or a settings change. */
  dispatch(payload: RequestEvent | { log: LogEvent } | { settings: SettingsEvent }): void {
    if ('log' in payload) for (const l of this.#logs.get(payload.log.request_id) ?? []) l(payload.log)
    else if ('settings' in payload) for (const l of this.#settings) l(payload.settings)
    else this.emit(payload)
  }

  /** Every event (the engine: wake-ups and cancels). */
  onEvent(listener: Listener): () => void {
    this.#all.add(listener)
    return () => this.#all.delete(listener)
  }

  /** After the listener (re)connects, notifications may have been missed: re-read what matters. */
  onResync(listener: () => void): () => void {
    this.#resync.add(listener)
    return () => this.#resync.delete(listener)
  }

  emit(event: RequestEvent): void {
    for (const l of this.#all) l(event)
    for (const l of this.#byId.get(event.id) ?? []) l(event)
  }

  resync(): void {
    for (const l of this.#resync) l()
  }
}

interface Hub { events: RequestEvents; refs: number; ready: Promise<{ close(): Promise<void> } | null> }
const hubs = new WeakMap<PgBoss, Hub>()

/**
 * The process's shared events for this pg-boss instance's database, listening while anyone holds it.
 * The app and the engine of one process share it; `release` closes the connection after the last one.
 */
export async function acquireRequestEvents(boss: PgBoss, log: Logger): Promise<{ events: RequestEvents; release(): Promise<void> }> {
  let hub = hubs.get(boss)
  if (!hub) {
    const events = new RequestEvents()
    const db = boss.getDb()
    const ready = db.listen
      ? db.listen(REQUESTS_CHANNEL, (payload) => {
          try {
            events.dispatch(JSON.parse(payload) as RequestEvent)
          } catch (err) {
            log.error({ err }, 'bad request event payload')
          }
        }, () => events.resync())
      : Promise.resolve(null)
    hub = { events, refs: 0, ready }
    hubs.set(boss, hub)
  }
  const h = hub
  h.refs++
  try {
    if (!(await h.ready)) log.warn('LISTEN/NOTIFY unavailable: live status and instant wake-ups are off')
  } catch (err) {
    h.refs--
    if (hubs.get(boss) === h) hubs.delete(boss)
    throw err
  }
  let released = false
  return {
    events: h.events,
    async release() {
      if (released) return
      released = true
      if (--h.refs > 0) return
      if (hubs.get(boss) === h) hubs.delete(boss)
      await (await h.ready.catch(() => null))?.close()
    },
  }
}

// In-process signal for the engine: a request was just committed here, fetch now (saves the NOTIFY round
// trip). `requestId` names it, so that its NOTIFY, which follows, does not send the engine to fetch again.
const enqueueListeners = new Set<(feature: string, requestId?: string) => void>()
export function onLocalEnqueue(listener: (feature: string, requestId?: string) => void): () => void {
  enqueueListeners.add(listener)
  return () => enqueueListeners.delete(listener)
}
export function localEnqueued(feature: string, requestId?: string): void {
  for (const l of enqueueListeners) l(feature, requestId)
}
