// A profiling aid for `npm run bench` (BENCH_NODE_OPTIONS=--import=./bench/count-queries.ts): counts
// every statement the process sends through `pg` (Kysely's pool and pg-boss's alike), by its first
// words, and writes the counts to $TMPDIR/conveyor-queries-<pid>.json when the process exits. Only
// the main thread's are counted (a system feature's own pool in a thread is not on the job path).
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'

const counts = new Map<string, number>()
const original = pg.Client.prototype.query as (...args: unknown[]) => unknown
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0] as string | { text?: string; name?: string }
  const text = typeof first === 'string' ? first : (first?.name ? `[prepared] ${first.text}` : first?.text ?? '?')
  const key = text.replace(/\s+/g, ' ').trim().slice(0, 90)
  counts.set(key, (counts.get(key) ?? 0) + 1)
  return original.apply(this, args)
} as typeof pg.Client.prototype.query
process.on('exit', () => {
  const sorted = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]))
  writeFileSync(path.join(tmpdir(), `conveyor-queries-${process.pid}.json`), JSON.stringify(sorted, null, 1))
})
