// Helpers for the fault tests: a logger whose lines the test can read, an engine on shared services
// with its own settings, and the end-state checks every fault test makes (nothing stuck, lost or doubled).
import { Writable } from 'node:stream'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import pino from 'pino'
import { sql } from 'kysely'
import type { Db } from '../../db/index.ts'
import { BOSS_SCHEMA } from '../../worker/index.ts'

export interface LogLine { level: number; msg: string; [key: string]: unknown }

/** A pino logger that keeps every line (info and up) in memory for the test to read. */
export function capturingLogger(): { log: pino.Logger; lines: LogLine[]; messages(msg: string): LogLine[] } {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const text of String(chunk).split('\n')) if (text) lines.push(JSON.parse(text) as LogLine)
      done()
    },
  })
  return { log: pino({ level: 'info' }, stream), lines, messages: (msg) => lines.filter((l) => l.msg === msg) }
}

export interface EndState {
  byStatus: Record<string, number>
  /** Requests not in a terminal status. */
  stuck: string[]
  /** Requests whose pg-boss job is still created, retry or active although the request is terminal. */
  liveJobs: string[]
  /** Completed requests without exactly one result row. */
  missingResults: string[]
}

/** The state of every request of a database, as the fault tests check it at the end. */
export async function endState(db: Db): Promise<EndState> {
  const rows = await db.selectFrom('processing_requests').select(['id', 'status']).execute()
  const byStatus: Record<string, number> = {}
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1
  const stuck = rows.filter((r) => !['completed', 'failed', 'cancelled'].includes(r.status)).map((r) => r.id)
  const { rows: live } = await sql<{ id: string }>`
    SELECT r.id FROM processing_requests r JOIN ${sql.table(`${BOSS_SCHEMA}.job`)} j ON j.id = r.job_id
     WHERE r.status IN ('completed', 'failed', 'cancelled') AND j.state IN ('created', 'retry', 'active')`.execute(db)
  const { rows: missing } = await sql<{ id: string }>`
    SELECT r.id FROM processing_requests r LEFT JOIN processing_results x ON x.request_id = r.id
     WHERE r.status = 'completed' AND x.request_id IS NULL`.execute(db)
  return { byStatus, stuck, liveJobs: live.map((r) => r.id), missingResults: missing.map((r) => r.id) }
}

/** Waits until no request is pending or processing (polling the database), or the deadline passes. */
export async function allSettled(db: Db, timeoutMs: number): Promise<EndState> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const state = await endState(db)
    if (state.stuck.length === 0 || Date.now() > deadline) return state
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Every file under `root`, relative to it. */
export async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort()
}
