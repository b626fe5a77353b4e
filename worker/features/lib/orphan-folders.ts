// Upload folders that no request owns: a process that died between streaming an upload to
// MEDIA_ROOT/<id>/ and inserting the request's row leaves one behind, and nothing else would ever
// remove it. A folder counts as an orphan only when no processing_requests row has its id AND
// nothing in it has changed for `quietMinutes`: an upload still streaming, or a create about to
// commit, is never taken.
import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Kysely } from 'kysely'
import type { Database } from '../../../db/types.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const BATCH = 500

/** The latest change time (ms) in a folder, its sub-folders and their files: uploads write two levels down. */
async function lastChange(dir: string, depth = 2): Promise<number> {
  let latest = (await stat(dir)).mtimeMs
  if (depth === 0) return latest
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name)
    const t = entry.isDirectory() ? await lastChange(full, depth - 1) : (await stat(full).catch(() => null))?.mtimeMs ?? 0
    latest = Math.max(latest, t)
  }
  return latest
}

/** Removes orphan request folders under `mediaRoot`; returns how many. */
export async function removeOrphanFolders(db: Kysely<Database>, mediaRoot: string, quietMinutes: number, signal?: AbortSignal): Promise<number> {
  const entries = await readdir(mediaRoot, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  const folders = entries.filter((e) => e.isDirectory() && UUID.test(e.name)).map((e) => e.name)
  const cutoff = Date.now() - quietMinutes * 60_000
  let removed = 0
  for (let i = 0; i < folders.length; i += BATCH) {
    signal?.throwIfAborted()
    const batch = folders.slice(i, i + BATCH)
    const owned = new Set((await db.selectFrom('processing_requests').select('id').where('id', 'in', batch).execute()).map((r) => r.id))
    for (const id of batch) {
      if (owned.has(id)) continue
      const dir = path.join(mediaRoot, id)
      if ((await lastChange(dir).catch(() => Infinity)) > cutoff) continue
      await rm(dir, { recursive: true, force: true })
      removed++
    }
  }
  return removed
}
