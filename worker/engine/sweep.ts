// Files a killed process left behind under MEDIA_ROOT: the attempt folders (attempt-N/, scratch and
// staged output) of attempts that are over, and the folders of requests that no longer exist. Run by
// every engine at start-up and then hourly; safe beside other instances, because a folder is removed
// only when the database says nobody can be using it (an attempt still `processing` keeps its own).
import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import type { Db } from '../../db/index.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ATTEMPT = /^attempt-(\d+)$/
// A create stores its upload before its row is committed: a folder without a row is left alone this long.
const ORPHAN_AGE_MS = 60 * 60_000

export async function sweepMedia(db: Db, mediaRoot: string, log: Pick<Logger, 'warn'>): Promise<number> {
  const dirs = (await readdir(mediaRoot, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && UUID.test(e.name)).map((e) => e.name)
  let removed = 0
  for (let i = 0; i < dirs.length; i += 500) {
    const ids = dirs.slice(i, i + 500)
    const rows = await db.selectFrom('processing_requests').select(['id', 'status', 'attempts']).where('id', 'in', ids).execute()
    const byId = new Map(rows.map((r) => [r.id, r]))
    for (const id of ids) {
      const dir = path.join(mediaRoot, id)
      const row = byId.get(id)
      if (!row) {
        const age = Date.now() - ((await stat(dir).catch(() => null))?.mtimeMs ?? Date.now())
        if (age > ORPHAN_AGE_MS) { await rm(dir, { recursive: true, force: true }); removed++ }
        continue
      }
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const n = Number(ATTEMPT.exec(name)?.[1] ?? NaN)
        // Kept: the attempt running now, and a newer one whose claim has not committed yet (its thread
        // may already be writing while the row still shows the attempt before).
        if (Number.isNaN(n) || n > row.attempts || (row.status === 'processing' && n === row.attempts)) continue
        await rm(path.join(dir, name), { recursive: true, force: true })
        removed++
      }
    }
  }
  if (removed > 0) log.warn({ removed }, 'removed files left by interrupted attempts')
  return removed
}
