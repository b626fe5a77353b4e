// Instances announce themselves: each running instance upserts its row of `instances` (role, thread
// pool size and busy threads) every HEARTBEAT_MS; monitoring lists the rows seen within
// INSTANCE_STALE_SECONDS, so an instance that died drops off the list on its own. A clean stop
// deletes the row at once. Rows silent for an hour are deleted by whichever instance beats next.
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { Db } from '../../db/index.ts'

export const HEARTBEAT_MS = 5000
/** Three missed heartbeats: the instance is gone. */
export const INSTANCE_STALE_SECONDS = 15

export interface InstanceBeat {
  id: string
  /** Beat now; resolves when written. */
  beat(): Promise<void>
  /** The busy count changed: beat soon (at most once a second), so the list follows the work. */
  changed(): void
  stop(): Promise<void>
}

export async function startInstanceHeartbeat(db: Db, log: Pick<Logger, 'warn'>, options: {
  role: string
  stats(): { threads: number; busy: number }
}): Promise<InstanceBeat> {
  const id = randomUUID()
  let stopped = false
  let writing: Promise<void> = Promise.resolve()
  const write = async () => {
    const { threads, busy } = options.stats()
    await db.insertInto('instances').values({ id, role: options.role, threads, busy })
      .onConflict((oc) => oc.column('id').doUpdateSet({ threads, busy, last_seen_at: sql<Date>`now()` })).execute()
    await db.deleteFrom('instances').where('last_seen_at', '<', sql<Date>`now() - interval '1 hour'`).execute()
  }
  const beat = () => {
    if (stopped) return writing
    writing = writing.then(write).catch((err) => log.warn({ err }, 'instance heartbeat failed'))
    return writing
  }
  let soon: NodeJS.Timeout | null = null
  let lastBeat = Date.now()
  const beatAndNote = () => { lastBeat = Date.now(); return beat() }
  await write().catch((err) => log.warn({ err }, 'instance heartbeat failed'))
  const timer = setInterval(() => void beatAndNote(), HEARTBEAT_MS)
  timer.unref()
  return {
    id,
    beat: beatAndNote,
    changed() {
      if (soon || stopped) return
      soon = setTimeout(() => { soon = null; void beatAndNote() }, Math.max(0, lastBeat + 1000 - Date.now()))
      soon.unref()
    },
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      if (soon) clearTimeout(soon)
      await writing
      await db.deleteFrom('instances').where('id', '=', id).execute().catch(() => {})
    },
  }
}
