// The live job log: lines a phase writes with ctx.log(), stored with their attempt and announced on the
// requests channel (so every instance's SSE streams get them), in order. Bounded: at most
// LOG_LINES_PER_ATTEMPT rows per attempt, the oldest dropped and replaced by one marker line (seq 0)
// saying how many; each line at most LOG_LINE_CHARS characters. Lines are batched: one statement per
// flush (every FLUSH_MS while lines arrive); the last batch of a completed attempt goes into its
// completion's transaction (no commit of its own on the hot path), that of any other outcome is
// flushed before the settlement: either way the lines precede the final status on the stream.
import { sql } from 'kysely'
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
   * Waits for the earlier flushes, then hands over what is buffered as a write to run in the
   * caller's transaction (null when nothing is buffered). Used by the completion.
   */
  drain(): Promise<((trx: Executor) => Promise<void>) | null>
}

/** Inserts a batch, drops what fell out of the window, keeps the marker, and announces the new lines. */
async function writeBatch(db: Executor, requestId: string, attempt: number, lines: Line[], last: number): Promise<void> {
  const droppedUpTo = Math.max(0, last - (LOG_LINES_PER_ATTEMPT - 1))
  // One statement: a notification is delivered at commit, in the order sent (ORDER BY seq).
  await sql`
    WITH ins AS (
      INSERT INTO job_logs (request_id, attempt, seq, at, level, message)
      SELECT ${requestId}::uuid, ${attempt}::int, x.seq, x.at, x.level, x.message
        FROM jsonb_to_recordset(${JSON.stringify(lines)}::jsonb) AS x(seq int, at timestamptz, level text, message text)
      RETURNING *),
    dropped AS (
      DELETE FROM job_logs WHERE request_id = ${requestId}::uuid AND attempt = ${attempt}::int AND seq BETWEEN 1 AND ${droppedUpTo}::int),
    marker AS (
      INSERT INTO job_logs (request_id, attempt, seq, at, level, message)
      SELECT ${requestId}::uuid, ${attempt}::int, 0, now(), 'warn', ${droppedMarker(droppedUpTo)} WHERE ${droppedUpTo}::int > 0
      ON CONFLICT (request_id, attempt, seq) DO UPDATE SET message = excluded.message)
    SELECT pg_notify(${REQUESTS_CHANNEL}, json_build_object('log', json_build_object(
             'request_id', request_id, 'attempt', attempt, 'seq', seq,
             'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'level', level, 'message', message))::text)
      FROM ins ORDER BY seq`.execute(db)
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
    chain = chain.then(() => writeBatch(db, requestId, attempt, lines, last))
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
      return (trx) => writeBatch(trx, requestId, attempt, lines, last)
    },
  }
}

/** The stored lines of a request, every attempt, in order (for a stream's replay). */
export async function readLogs(db: Db, requestId: string): Promise<LogEvent[]> {
  const rows = await db.selectFrom('job_logs').select(['request_id', 'attempt', 'seq', 'at', 'level', 'message'])
    .where('request_id', '=', requestId).orderBy('attempt').orderBy('seq').execute()
  return rows.map((r) => ({ ...r, at: r.at.toISOString() }))
}
