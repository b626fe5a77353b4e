// The ONE adapter over pg-boss internals (pg-boss 12.38, pinned). Everything else uses its public API.
//
// Why it exists: a create is the request INSERT plus pg-boss's job INSERT. Through the public
// `send()` inside a transaction that is BEGIN, two INSERTs and COMMIT: four round trips. With
// pg-boss's own job INSERT (plans.insertJobs, the statement send() runs) as a CTE of our INSERT it is
// one statement, so one round trip and one commit (measured: see BENCHMARKS.md). It also reads two
// result fields that pg-boss returns but does not document (`affected` of complete(), `settled` of
// touch()). test/queue/job-insert.test.ts creates a job both ways and compares the stored rows column
// by column, and checks those fields, so an upgrade that changes any of it fails a test instead of
// corrupting jobs.
import type { PgBoss } from 'pg-boss'
import { insertJobs, QUEUE_POLICIES, restoreJobs } from 'pg-boss/dist/plans.js'
import { BOSS_SCHEMA } from './boss.ts'
import type { JobData } from './queues.ts'

/** pg-boss's job INSERT for one queue, its job array parameter moved to `$jobs` of our statement. */
export interface JobInsert {
  /** SQL of the job INSERT with its one parameter written as `placeholder`. */
  sql(placeholder: string): string
}

const inserts = new WeakMap<PgBoss, Map<string, Promise<JobInsert | null>>>()

/**
 * The job INSERT that `send()` would run for `queue`, or null when send() would do more than that
 * one statement (a queue policy with its own rules, a notify queue, an unknown layout): the caller
 * then uses send() itself.
 */
export function jobInsertOf(boss: PgBoss, queue: string): Promise<JobInsert | null> {
  let byQueue = inserts.get(boss)
  if (!byQueue) inserts.set(boss, (byQueue = new Map()))
  let found = byQueue.get(queue)
  if (!found) {
    found = boss.getQueue(queue).then((q) => {
      const { table, policy, notify } = (q ?? {}) as { table?: string; policy?: string; notify?: boolean }
      if (!q || !table || notify || (policy && policy !== QUEUE_POLICIES.standard)) return null
      const parts = insertJobs(BOSS_SCHEMA, { table, name: queue, returnId: true, notify: false }).split('$1')
      if (parts.length !== 2) return null
      const [before, after] = parts as [string, string]
      return { sql: (placeholder: string) => `${before}${placeholder}${after}` }
    })
    found.catch(() => byQueue.delete(queue))
    byQueue.set(queue, found)
  }
  return found
}

/** The `$1` of the job INSERT for jobs with these ids and data: send()'s payload (Attorney.checkSendArgs + toJobPayload) for each. */
export function jobsPayload(jobs: { id: string; data: JobData }[]): string {
  return JSON.stringify(jobs.map(({ id, data }) => ({ id, data, priority: 0, singletonKey: null, singletonOffset: 0, groupId: null, groupTier: null, deadLetter: null })))
}

/** How many jobs complete() completed (`affected`, undocumented). */
export const completedCount = (result: unknown): number => Number((result as { affected?: number } | null)?.affected ?? 0)

/** The ids touch() found still active (`settled`, undocumented); null when pg-boss did not say. */
export const touchedIds = (result: unknown): string[] | null => (result as { settled?: string[] } | null)?.settled ?? null

/**
 * Gives fetched jobs back to their queue exactly as they were before the fetch (`created`, no start,
 * retry count unchanged): pg-boss's own restore statement (Manager.restore, which its worker uses for
 * jobs it fetched past a group's limit; not on the typed facade). `db` is the claim's transaction.
 */
export async function restoreFetched(boss: PgBoss, db: { executeSql(text: string, values?: unknown[]): Promise<unknown> }, queue: string, ids: string[]): Promise<void> {
  const q = (await boss.getQueue(queue)) as { table?: string } | null
  await db.executeSql(restoreJobs(BOSS_SCHEMA, q?.table ?? 'job'), [queue, ids])
}
