// purge-old-requests (system): deletes finished requests older than the retention, with their
// results and files. Run daily by a built-in schedule (its input holds the retention, so staff can
// change it at run time). Batched, cancellable, and safe to rerun: files go first, then the rows,
// so an interrupted run leaves rows to find again rather than orphaned files. It also removes upload
// folders no request owns (a crash between an upload and its row), once quiet for an hour.
import { Type } from '@sinclair/typebox'
import { sql } from 'kysely'
import { defineFeature, JobError, removeRequestFiles } from './api.ts'
import { removeOrphanFolders } from './lib/orphan-folders.ts'

const BATCH = 200
/** An upload folder without a row is an orphan once nothing in it changed for this long. */
const ORPHAN_QUIET_MINUTES = 60

export default defineFeature({
  name: 'purge-old-requests',
  title: 'Purge old requests',
  description: 'Maintenance: deletes completed, failed and cancelled requests finished more than `older_than_days` days ago, with their results and files, and upload folders that no request owns.',
  system: true,
  input: Type.Object({
    older_than_days: Type.Integer({ minimum: 1, maximum: 36_500, default: 30, description: 'retention in days' }),
  }),
  timeLimitSeconds: 3600,
  retry: { limit: 2, delaySeconds: 300, backoff: true },
  validate(input, ctx) {
    if (!ctx.db) throw new JobError('This maintenance task needs the database.')
    return { db: ctx.db, cutoff: new Date(Date.now() - input.older_than_days * 86_400_000) }
  },
  async process({ db, cutoff }, ctx) {
    const old = (executor: typeof db) => executor.selectFrom('processing_requests')
      .where('status', 'in', ['completed', 'failed', 'cancelled'])
      .where('finished_at', '<', cutoff)
    const { total } = await old(db).select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow()
    let deleted = 0
    for (;;) {
      ctx.signal.throwIfAborted()
      const removed = await db.transaction().execute(async (trx) => {
        // SKIP LOCKED: a concurrent purge (or a delete through the API) takes other rows.
        const ids = (await old(trx).select('id').orderBy('finished_at').limit(BATCH).forUpdate().skipLocked().execute()).map((r) => r.id)
        for (const id of ids) await removeRequestFiles(ctx.mediaRoot, id)
        if (ids.length > 0) await trx.deleteFrom('processing_requests').where('id', 'in', ids).execute()
        return ids.length
      })
      if (removed === 0) break
      deleted += removed
      ctx.progress(total > 0 ? (deleted / total) * 99 : 99)
    }
    const orphans = await removeOrphanFolders(db, ctx.mediaRoot, ORPHAN_QUIET_MINUTES, ctx.signal)
    ctx.progress(100)
    return { deleted, orphans, cutoff }
  },
  save: ({ deleted, orphans, cutoff }) => ({
    data: { deleted_requests: deleted, deleted_orphan_folders: orphans, finished_before: cutoff.toISOString() },
  }),
})
