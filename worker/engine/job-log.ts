// The live job log: lines a phase writes with ctx.log(), stored with their attempt and announced on the
// requests channel (so every instance's SSE streams get them), in order. Bounded: at most
// LOG_LINES_PER_ATTEMPT rows per attempt, the oldest dropped and replaced by one marker line (seq 0)
// saying how many; each line at most LOG_LINE_CHARS characters. Lines are batched: one statement per
// flush (every FLUSH_MS while lines arrive); the last batch of a completed attempt goes into its
// completion's transaction (no commit of its own on the hot path), that of any other outcome is
// flushed before the settlement: either way the lines precede the final status on the stream.
import { sql, type RawBuilder } from 'kysely'
import type { Logger } from 'pino'
import type { Db, Executor } from '../../db/index.ts'
import type { LogLevel } from '../../db/types.ts'
import { clipLine } from '../threads/log-line.ts'
import { REQUESTS_CHANNEL, type LogEvent } from '../requests/events.ts'

export const LOG_LINES_PER_ATTEMPT = 500
const FLUSH_MS = 200

interface Line { seq: number; at: string; level: LogLevel; message: string }

export const droppedMarker = (n: number): string =>
  `… ${n} earlier line${n === 1 ? '' : 's'} dropped (at most ${LOG_LINES_PER_ATTEMPT} lines are kept per attempt)`

export interface LogWriter {
  add(level: LogLevel, message: string, at: string): void
  /** Writes what is buffered; resolves once every earlier flush is done too. */
  flush(): Promise<void>
  /**
   * Waits for the earlier flushes, then hands over what is buffered, for the caller to write in its
   * transaction with writeLogBatches (null when nothing is buffered). Used by the completion.
   */
  drain(): Promise<LogBatch | null>
}

/** Lines of one attempt to store: `last` is the attempt's newest line number so far. */
export interface LogBatch { requestId: string; attempt: number; lines: Line[]; last: number }

/**
 * The common table expressions that store the batches (of one attempt or of several): insert the
 * lines, drop what fell out of each attempt's window, keep its marker, and announce the new lines
 * (`notes`, which the statement must read for them to be sent). Part of one statement, so that the
 * notifications are delivered at commit in the order sent, each attempt's lines in their order, and
 * before any status change of the same statement (its trigger fires when the statement ends).
 */
export function logCtes(batches: LogBatch[], alive?: RawBuilder<unknown>): RawBuilder<unknown> {
  const lines = batches.flatMap((b) => b.lines.map((l) => ({ request_id: b.requestId, attempt: b.attempt, ...l })))
  const windows = batches.map((b) => {
    const droppedUpTo = Math.max(0, b.last - (LOG_LINES_PER_ATTEMPT - 1))
    return { request_id: b.requestId, attempt: b.attempt, dropped_up_to: droppedUpTo, marker: droppedMarker(droppedUpTo) }
  }).filter((w) => w.dropped_up_to > 0)
  // Only for requests that still exist, held so until the transaction ends: a request deleted while
  // its job ran loses its last lines with it, instead of failing the statement on the foreign key,
  // which turned the save of a superseded job into an engine error. `alive` names a CTE of the
  // statement with the ids it holds (a saving statement: the rows its UPDATE changed, whose locks
  // it has); without one, the rows are locked here FOR KEY SHARE, in id order like every lock of
  // the engine. (Not both in one statement: a row this statement updates is skipped by its own
  // FOR KEY SHARE.)
  const ids = [...new Set(batches.map((b) => b.requestId))]
  const held = alive ?? sql`alive`
  return sql`
    ${alive ? sql`` : sql`alive AS (
      SELECT id FROM processing_requests WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR KEY SHARE),`}
    ins AS (
      INSERT INTO job_logs (request_id, attempt, seq, at, level, message)
      SELECT x.request_id, x.attempt, x.seq, x.at, x.level, x.message
        FROM jsonb_to_recordset(${JSON.stringify(lines)}::jsonb)
          AS x(request_id uuid, attempt int, seq int, at timestamptz, level text, message text)
        JOIN ${held} a ON a.id = x.request_id
      RETURNING *),
    windows AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(windows)}::jsonb) AS w(request_id uuid, attempt int, dropped_up_to int, marker text)),
    dropped AS (
      DELETE FROM job_logs j USING windows w
       WHERE j.request_id = w.request_id AND j.attempt = w.attempt AND j.seq BETWEEN 1 AND w.dropped_up_to),
    marker AS (
      INSERT INTO job_logs (request_id, attempt, seq, at, level, message)
      SELECT w.request_id, w.attempt, 0, now(), 'warn', w.marker FROM windows w JOIN ${held} a ON a.id = w.request_id
      ON CONFLICT (request_id, attempt, seq) DO UPDATE SET message = excluded.message),
    notes AS (
      SELECT pg_notify(${REQUESTS_CHANNEL}, json_build_object('log', json_build_object(
               'request_id', request_id, 'attempt', attempt, 'seq', seq,
               'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'level', level, 'message', message))::text)
        FROM ins ORDER BY request_id, attempt, seq)`
}

/** Stores and announces the batches in one statement of their own (logCtes). */
export async function writeLogBatches(db: Executor, batches: LogBatch[]): Promise<void> {
  if (batches.length === 0) return
  await sql`WITH ${logCtes(batches)} SELECT count(*) FROM notes`.execute(db)
}

export function logWriter(db: Db, log: Pick<Logger, 'warn'>, requestId: string, attempt: number): LogWriter {
  let seq = 0
  let buffer: Line[] = []
  let timer: NodeJS.Timeout | null = null
  let chain: Promise<void> = Promise.resolve()
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer)
    timer = null
    if (buffer.length === 0) return chain
    const lines = buffer
    const last = seq
    buffer = []
    // Chained: batches are written (and announced) in order. A failed write loses its lines only.
    chain = chain.then(() => writeLogBatches(db, [{ requestId, attempt, lines, last }]))
      .catch((err) => log.warn({ err, requestId }, 'job log write failed'))
    return chain
  }
  return {
    add(level, message, at) {
      seq++
      buffer.push({ seq, at, level, message: clipLine(message) })
      // One flush never stores more than the window: the marker plus the newest lines.
      if (buffer.length > LOG_LINES_PER_ATTEMPT - 1) buffer.shift()
      timer ??= setTimeout(() => void flush(), FLUSH_MS)
    },
    flush,
    async drain() {
      if (timer) clearTimeout(timer)
      timer = null
      await chain
      if (buffer.length === 0) return null
      const lines = buffer
      const last = seq
      buffer = []
      return { requestId, attempt, lines, last }
    },
  }
}

/** The stored lines of a request, every attempt, in order (for a stream's replay). */
export async function readLogs(db: Db, requestId: string): Promise<LogEvent[]> {
  const rows = await db.selectFrom('job_logs').select(['request_id', 'attempt', 'seq', 'at', 'level', 'message'])
    .where('request_id', '=', requestId).orderBy('attempt').orderBy('seq').execute()
  return rows.map((r) => ({ ...r, at: r.at.toISOString() }))
}
