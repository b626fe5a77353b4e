// The bounds of a job log line, shared by the thread (which clips before posting) and the engine.
export const LOG_LINE_CHARS = 1000

/** A line as it may be stored: clipped, and without NUL (which PostgreSQL text cannot hold). */
export function clipLine(message: string): string {
  const clean = message.replaceAll('\u0000', '\uFFFD')
  return clean.length <= LOG_LINE_CHARS ? clean : `${clean.slice(0, LOG_LINE_CHARS - 1)}…`
}
