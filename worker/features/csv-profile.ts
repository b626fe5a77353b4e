// csv-profile: an uploaded CSV → a profile of every column (inferred type, nulls, distinct estimate,
// min/max/mean/stddev, top values) and a downloadable report. Streams the file through csv-parse:
// memory stays flat whatever its size, progress follows the bytes read, a cancel stops the stream,
// and a malformed file (a quote never closed) fails with its line instead of growing a field forever.
//
// The distinct estimate (lib/hyperloglog.ts, ~50 lines) and the top values (Misra–Gries, below) stay
// our own: the maintained package with both, bloom-filters, brings eight runtime dependencies
// (lodash, long, xxhashjs, seedrandom, reflect-metadata…) into every worker thread, and its Top-K has
// no "these counts are exact" flag, which the report shows. Both are tested against their error bounds.
import { createReadStream } from 'node:fs'
import { open, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Type } from '@sinclair/typebox'
import { CsvError, parse } from 'csv-parse'
import { defineFeature, JobError } from './api.ts'
import { HyperLogLog } from './lib/hyperloglog.ts'

const NULLS = new Set(['', 'na', 'n/a', 'null', 'none', 'nan', '-'])
const INTEGER = /^[+-]?\d+$/
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const BOOLEAN = /^(?:true|false)$/i
const DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/
const EXACT_DISTINCT = 10_000 // exact counts up to here, then the HyperLogLog estimate
const TOP_CAPACITY = 1_000 // Misra–Gries counters for the top values
/**
 * The longest record csv-parse will hold (characters). Real rows are far shorter; a stray opening
 * quote makes the rest of the file one field, and this cap turns that into an error, not a heap.
 */
export const MAX_RECORD_CHARS = 1 << 20

/** One column's running profile; every update is O(1) amortised. */
class ColumnProfile {
  count = 0
  nulls = 0
  integers = 0
  numbers = 0
  booleans = 0
  dates = 0
  mean = 0
  m2 = 0
  min: number | null = null
  max: number | null = null
  minText: string | null = null
  maxText: string | null = null
  minLength = Infinity
  maxLength = 0
  readonly hll = new HyperLogLog()
  exact: Set<string> | null = new Set()
  top = new Map<string, number>()
  topExact = true

  readonly name: string
  constructor(name: string) {
    this.name = name
  }

  add(raw: string): void {
    const value = raw.trim()
    // Every null marker is short: longer values skip the lower-casing.
    if (value.length <= 4 && NULLS.has(value.toLowerCase())) {
      this.nulls++
      return
    }
    this.count++
    const integer = INTEGER.test(value)
    if (integer) this.integers++
    if (integer || FLOAT.test(value)) {
      this.numbers++
      const x = Number(value)
      // Welford's running mean and variance: one pass, numerically stable.
      const delta = x - this.mean
      this.mean += delta / this.numbers
      this.m2 += delta * (x - this.mean)
      if (this.min === null || x < this.min) this.min = x
      if (this.max === null || x > this.max) this.max = x
    } else if (BOOLEAN.test(value)) this.booleans++
    else if (DATE.test(value)) this.dates++
    if (this.minText === null || value < this.minText) this.minText = value
    if (this.maxText === null || value > this.maxText) this.maxText = value
    if (value.length < this.minLength) this.minLength = value.length
    if (value.length > this.maxLength) this.maxLength = value.length
    this.hll.add(value)
    if (this.exact) {
      this.exact.add(value)
      if (this.exact.size > EXACT_DISTINCT) this.exact = null
    }
    this.#countTop(value)
  }

  #countTop(value: string): void {
    const n = this.top.get(value)
    if (n !== undefined) this.top.set(value, n + 1)
    else if (this.top.size < TOP_CAPACITY) this.top.set(value, 1)
    else {
      // Misra–Gries: a full table decrements every counter, so the frequent values survive.
      this.topExact = false
      for (const [k, c] of this.top) c <= 1 ? this.top.delete(k) : this.top.set(k, c - 1)
    }
  }

  type(): string {
    if (this.count === 0) return 'empty'
    if (this.integers === this.count) return 'integer'
    if (this.numbers === this.count) return 'float'
    if (this.booleans === this.count) return 'boolean'
    if (this.dates === this.count) return 'date'
    return 'string'
  }

  summary(topN: number) {
    const type = this.type()
    const numeric = type === 'integer' || type === 'float'
    const stddev = this.numbers > 1 ? Math.sqrt(this.m2 / (this.numbers - 1)) : 0
    const round = (x: number) => Math.round(x * 1e6) / 1e6
    return {
      name: this.name,
      type,
      count: this.count,
      nulls: this.nulls,
      distinct: this.exact ? this.exact.size : this.hll.estimate(),
      distinct_exact: this.exact !== null,
      min: numeric ? this.min : this.minText,
      max: numeric ? this.max : this.maxText,
      mean: numeric ? round(this.mean) : null,
      stddev: numeric ? round(stddev) : null,
      min_length: this.count ? this.minLength : null,
      max_length: this.count ? this.maxLength : null,
      top_values: [...this.top].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topN).map(([value, count]) => ({ value, count })),
      top_values_exact: this.topExact,
    }
  }
}

type Profile = ReturnType<ColumnProfile['summary']>
const REPORT_COLUMNS = ['name', 'type', 'count', 'nulls', 'distinct', 'min', 'max', 'mean', 'stddev', 'min_length', 'max_length', 'top_values'] as const
const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}
function reportCsv(columns: Profile[]): string {
  const rows = columns.map((c) => REPORT_COLUMNS.map((k) => csvCell(k === 'top_values' ? c.top_values.map((t) => `${t.value} (${t.count})`).join('; ') : c[k])).join(','))
  return [REPORT_COLUMNS.join(','), ...rows].join('\n') + '\n'
}

/** The delimiter of the first line, among the usual ones, counting only outside quotes. */
async function sniffDelimiter(file: string): Promise<string> {
  const handle = await open(file)
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0)
    const head = buffer.subarray(0, bytesRead).toString('utf8').replace(/"[^"]*"/g, '')
    const line = head.split(/\r?\n/)[0] ?? ''
    const counts = [',', ';', '\t', '|'].map((d) => [d, line.split(d).length - 1] as const)
    const best = counts.sort((a, b) => b[1] - a[1])[0]!
    return best[1] > 0 ? best[0] : ','
  } finally {
    await handle.close()
  }
}

/** csv-parse's error, told in the user's terms, with the line the bad record starts on. */
function malformed(err: CsvError, startLine: number): JobError {
  const line = (err as CsvError & { lines?: number }).lines
  switch (err.code) {
    case 'CSV_MAX_RECORD_SIZE':
      return new JobError(`The CSV file is malformed: the record starting on line ${startLine} is still not finished on line ${line} (over ${MAX_RECORD_CHARS.toLocaleString('en')} characters). A quote is probably opened and never closed.`, 'CSV_MALFORMED')
    case 'CSV_QUOTE_NOT_CLOSED':
      return new JobError(`The CSV file is malformed: a quote opened in the record starting on line ${startLine} is never closed.`, 'CSV_MALFORMED')
    default:
      return new JobError(`The CSV file is malformed on line ${line ?? startLine}: ${err.message}`, 'CSV_MALFORMED')
  }
}

export default defineFeature({
  name: 'csv-profile',
  title: 'CSV profile',
  description: 'Profiles every column of an uploaded CSV file: inferred type, nulls, distinct values, min/max/mean/stddev and top values, with a downloadable report.',
  input: Type.Object({
    delimiter: Type.Optional(Type.Union([',', ';', '\t', '|'].map((d) => Type.Literal(d)), { description: 'Guessed from the first line when absent' })),
    has_header: Type.Optional(Type.Boolean({ default: true })),
    top_n: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 5 })),
    report_format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('json')], { default: 'csv' })),
  }),
  file: {
    extensions: ['.csv', '.tsv', '.txt'],
    contentTypes: ['text/csv', 'text/plain', 'text/tab-separated-values', 'application/csv', 'text/x-csv', 'application/vnd.ms-excel', 'application/octet-stream'],
    text: true,
    required: true,
  },
  timeLimitSeconds: 1800,
  retry: { limit: 2, delaySeconds: 10, backoff: true },

  async validate(input, ctx) {
    const file = ctx.inputFile
    if (!file || file.size === 0) throw new JobError('The CSV file is missing or empty.')
    return {
      file,
      delimiter: input.delimiter ?? await sniffDelimiter(file.path),
      hasHeader: input.has_header ?? true,
      topN: input.top_n ?? 5,
      format: input.report_format ?? 'csv',
    }
  },

  async process(v, ctx) {
    ctx.signal.throwIfAborted()
    let columns: ColumnProfile[] | null = null
    let rows = 0
    // The line on which the last complete record ended: the next record, if malformed, starts after it.
    let lastLine = 0
    const parser = parse({
      delimiter: v.delimiter,
      bom: true, // a UTF-8 BOM (Excel's exports) is not part of the first column's name
      relax_column_count: true, // ragged rows are profiled, not refused
      relax_quotes: true, // a quote inside an unquoted field (5'11") is data
      skip_empty_lines: true,
      max_record_size: MAX_RECORD_CHARS,
      on_record: (record: string[], info) => {
        lastLine = info.lines
        return record
      },
    })
    ctx.log(`Profiling ${v.file.name} (${v.file.size} bytes, delimiter ${JSON.stringify(v.delimiter)}, ${v.hasHeader ? 'with' : 'without'} a header row)`)
    let read = 0
    let width = 0
    let ragged = 0
    try {
      // File → byte counter (progress) → csv-parse → profiles. The signal destroys every stage.
      await pipeline(createReadStream(v.file.path, { highWaterMark: 1 << 20 }), async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          read += chunk.length
          ctx.progress((read / v.file.size) * 100)
          yield chunk
        }
      }, parser, async (records: AsyncIterable<string[]>) => {
        for await (const fields of records) {
          if (!columns) {
            columns = fields.map((f, i) => new ColumnProfile(v.hasHeader ? f.trim() || `column_${i + 1}` : `column_${i + 1}`))
            width = fields.length
            if (v.hasHeader) continue
          }
          rows++
          if (fields.length !== width) ragged++
          // Extra fields in a ragged row get columns of their own; missing ones count as nulls.
          while (columns.length < fields.length) columns.push(new ColumnProfile(`column_${columns.length + 1}`))
          for (let i = 0; i < columns.length; i++) columns[i]!.add(fields[i] ?? '')
        }
      }, { signal: ctx.signal })
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      if (err instanceof CsvError) throw malformed(err, lastLine + 1)
      throw err
    }
    if (!columns) throw new JobError('The CSV file has no rows.')
    ctx.log(`Read ${rows} rows in ${(columns as ColumnProfile[]).length} columns`)
    if (ragged > 0) ctx.log(`${ragged} rows have a different number of fields than the first row`, 'warn')
    return { rows, columns: (columns as ColumnProfile[]).map((c) => c.summary(v.topN)), v }
  },

  async save({ rows, columns, v }, ctx) {
    const report = v.format === 'json' ? 'profile.json' : 'profile.csv'
    const body = v.format === 'json' ? JSON.stringify({ rows, columns }, null, 2) : reportCsv(columns)
    await writeFile(path.join(ctx.outputDir, report), body)
    return {
      data: { file: v.file.name, bytes: v.file.size, delimiter: v.delimiter, has_header: v.hasHeader, rows, column_count: columns.length, columns, report },
    }
  },

  result: {
    view: [
      {
        type: 'summary',
        items: [
          { label: 'Rows', path: 'rows', format: 'number' },
          { label: 'Columns', path: 'column_count', format: 'number' },
          { label: 'File size', path: 'bytes', format: 'bytes' },
          { label: 'Delimiter', path: 'delimiter', format: 'text', names: { '\t': 'Tab' } },
        ],
      },
      {
        type: 'table',
        title: 'Columns',
        rows: 'columns',
        columns: [
          { label: 'Column', path: 'name', header: true },
          { label: 'Type', path: 'type', format: 'badge' },
          { label: 'Values', path: 'count', format: 'number' },
          { label: 'Nulls', path: 'nulls', format: 'number' },
          { label: 'Distinct', path: 'distinct', format: 'number', exact: 'distinct_exact' },
          { label: 'Min', path: 'min', numeric: true },
          { label: 'Max', path: 'max', numeric: true },
          { label: 'Mean', path: 'mean', numeric: true },
          { label: 'Std dev', path: 'stddev', numeric: true },
          { label: 'Top values', path: 'top_values', format: 'pairs', pair: ['value', 'count'] },
        ],
      },
    ],
    downloads: ['json', 'csv'],
  },

  toCsv: (data: { columns: Profile[] }) => reportCsv(data.columns),
})
