// The contract of a feature: one file exporting `defineFeature({...})`, loaded by both the API (for
// routes, validation and the feature list) and every worker thread (for the four phases).
// It imports nothing from server/: a feature file must load inside a thread.
import { Type, type Static, type TObject } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { Kysely } from 'kysely'
import type { Database } from '../db/types.ts'

/** Which upload a feature accepts in the `file` part of a multipart create. */
export interface FileAcceptance {
  /** Allowed extensions, lower case with the dot: ['.csv']. */
  extensions: string[]
  /** Allowed declared content types; browsers disagree, so keep this generous. */
  contentTypes: string[]
  /** The bytes must be UTF-8 text (no NUL bytes, no invalid sequences). */
  text: boolean
  /** Without a file the create is a 400 on `file`, unless `checkInput` decides otherwise. */
  required: boolean
}

export interface RetryPolicy {
  /** Retries after the first attempt (0: fail at once). */
  limit: number
  /** Delay before the first retry. */
  delaySeconds: number
  /** Double the delay on each further retry (with jitter), up to `maxDelaySeconds`. */
  backoff: boolean
  maxDelaySeconds?: number
}

export interface InputFile {
  path: string
  name: string
  size: number
  content_type: string
}

/** What every phase receives. Paths are private to this attempt except `inputFile`. */
export interface JobContext {
  requestId: string
  feature: string
  /** 1 on the first attempt; a retry sees 2, 3, … */
  attempt: number
  inputFile: InputFile | null
  /** Scratch space for this attempt, created on first use and removed after cleanup. */
  workDir: string
  /** Files written here by `save` become the request's downloadable output files (created on first use). */
  outputDir: string
  /** Aborted when the request is cancelled or the engine shuts down: check it between units of work. */
  signal: AbortSignal
  /** Reports progress (0–100); cheap to call often, it is throttled before it reaches the database. */
  progress(percent: number): void
  /** The thread's own small pool on the app database, for `system` features only (else null). */
  db: Kysely<Database> | null
  /** Root of every request's files (MEDIA_ROOT), for `system` features that manage them. */
  mediaRoot: string
}

/** What `save` returns: the result document, and content types for the files it wrote. */
export interface SaveResult {
  data: unknown
  contentTypes?: Record<string, string>
}

export interface Feature<Input = any, Valid = any, Output = any> {
  name: string
  title: string
  description: string
  input: TObject
  file?: FileAcceptance
  /**
   * A feature that maintains Conveyor itself (clean-ups): only staff may create it, others do not
   * see it, and its phases get `ctx.db`. Ordinary features work on their input and files only.
   */
  system?: boolean
  /** Hard limit of one attempt; the thread is terminated when it passes. Default 3600. */
  timeLimitSeconds?: number
  /** Default: no retry. Failures a retry cannot fix should throw JobError. */
  retry?: RetryPolicy
  /** Cross-field checks at create time, after the schema: DRF field errors, or null. */
  checkInput?(input: Input, file: { name: string; size: number } | null): Partial<Record<string, string[]>> | null
  /** 1. Check and normalise the input; prepare the working directory. */
  validate(input: Input, ctx: JobContext): Promise<Valid> | Valid
  /** 2. The core work: report progress, honour ctx.signal. */
  process(valid: Valid, ctx: JobContext): Promise<Output> | Output
  /** 3. Write output files into ctx.outputDir and return the result document. */
  save(output: Output, ctx: JobContext): Promise<SaveResult> | SaveResult
  /** 4. Always runs, whatever happened before: remove what the feature created outside workDir. */
  cleanup?(ctx: JobContext): Promise<void> | void
  /** The result document as CSV, for `download-results/?format=csv` (declare 'csv' in `result.downloads`). */
  toCsv?(data: any): string
  /** How the web client shows the result document, and its downloads. Default: JSON (see resultOf). */
  result?: ResultDeclaration
}

// ── Result views ─────────────────────────────────────────────────────────────────────────────
// How a feature's result document is shown and downloaded, declared in the feature's own file: the
// SPA renders these blocks with generic components, so a new feature needs no client code. They
// are TypeBox schemas, not only types, because GET /api/v1/features/ sends them (server/schemas/
// features.ts) and the client takes its types from there. A path is dotted keys into the document
// (a table column's path: into its row); '' is the whole document.

const DataPath = Type.String({ description: "Dotted keys into the document (or, for a column, the row): 'columns', 'stats.words'; '' = all" })

/**
 * How one value is written. `auto`: numbers grouped, null as —, booleans Yes/No, arrays and objects
 * as JSON. `bytes`: 1.5 KB. `seconds`: a duration (2 min 5 s). `badge`: a tag. `pairs`: an array
 * of objects as "a (2), b (1)" from the keys in `pair`. Table columns only: `rank` (the row's
 * position, no path needed), `share` (the value as a % of the document's `of`), `bar` (a bar as
 * long as the value relative to the column's largest).
 */
export const ValueFormatSchema = Type.Union(
  ['auto', 'text', 'number', 'bytes', 'seconds', 'badge', 'pairs', 'rank', 'share', 'bar'].map((f) => Type.Literal(f)),
)

export const ValueSpecSchema = Type.Object({
  label: Type.String(),
  path: Type.Optional(DataPath),
  format: Type.Optional(ValueFormatSchema),
  /** Shown instead of some raw values: { '\t': 'Tab' }. */
  names: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** A boolean beside the value (same context): false marks the value as an estimate (≈). */
  exact: Type.Optional(DataPath),
  /** `share`: the document path of the total. */
  of: Type.Optional(DataPath),
  /** `pairs`: the keys of each item's label and count. */
  pair: Type.Optional(Type.Tuple([Type.String(), Type.String()])),
})

export const TableColumnSchema = Type.Composite([ValueSpecSchema, Type.Object({
  /** This column names the row (a row header). */
  header: Type.Optional(Type.Boolean()),
  /** Right-align (numbers do by default). */
  numeric: Type.Optional(Type.Boolean()),
})])

export const ResultBlockSchema = Type.Union([
  /** Labelled values as tiles. */
  Type.Object({ type: Type.Literal('summary'), title: Type.Optional(Type.String()), items: Type.Array(ValueSpecSchema) }),
  /** One row per item of the array at `rows`. */
  Type.Object({ type: Type.Literal('table'), title: Type.String(), rows: DataPath, columns: Type.Array(TableColumnSchema), empty: Type.Optional(Type.String()) }),
  /** One line per item of the array at `items`, each written as `item` says (default: auto). */
  Type.Object({ type: Type.Literal('list'), title: Type.String(), items: DataPath, item: Type.Optional(ValueSpecSchema), empty: Type.Optional(Type.String()) }),
  /** The document (or the part at `path`) as formatted JSON: the fallback for anything else. */
  Type.Object({ type: Type.Literal('json'), title: Type.Optional(Type.String()), path: Type.Optional(DataPath) }),
])

export const DownloadFormatSchema = Type.Union([Type.Literal('json'), Type.Literal('csv')])

export const ResultDeclarationSchema = Type.Object({
  view: Type.Array(ResultBlockSchema),
  /** Formats of download-results/; 'csv' needs `toCsv`. */
  downloads: Type.Array(DownloadFormatSchema, { minItems: 1, uniqueItems: true }),
})

export type ValueSpec = Static<typeof ValueSpecSchema>
export type ResultBlock = Static<typeof ResultBlockSchema>
export type DownloadFormat = Static<typeof DownloadFormatSchema>
export type ResultDeclaration = Static<typeof ResultDeclarationSchema>

/** A feature's result declaration, or the default: the JSON document, plus CSV if it has `toCsv`. */
export function resultOf(feature: Pick<Feature, 'result' | 'toCsv'>): ResultDeclaration {
  return feature.result ?? { view: [{ type: 'json' }], downloads: feature.toCsv ? ['json', 'csv'] : ['json'] }
}

/** Why a result declaration is unusable, or null: checked when the feature is defined. */
export function resultProblem(feature: Pick<Feature, 'result' | 'toCsv'>): string | null {
  if (feature.result === undefined) return null
  const error = Value.Errors(ResultDeclarationSchema, feature.result).First()
  if (error) return `result${error.path.replaceAll('/', '.')}: ${error.message}`
  if (!feature.result.downloads.includes('json')) return "result.downloads: 'json' is always offered (the API's default format)"
  if (feature.result.downloads.includes('csv') && !feature.toCsv) return "result.downloads: 'csv' needs toCsv()"
  return null
}
// ── end of result views ──────────────────────────────────────────────────────────────────────

/** Declares a feature with its input type inferred from the TypeBox schema. */
export function defineFeature<S extends TObject, Valid, Output>(
  feature: Omit<Feature<Static<S>, Valid, Output>, 'input'> & { input: S },
): Feature<Static<S>, Valid, Output> {
  const problem = resultProblem(feature)
  if (problem) throw new Error(`feature ${feature.name}: ${problem}`)
  return feature
}

/**
 * A failure the user should read as it is and that no retry can fix (bad data, an empty file).
 * Any other error is retried per the feature's policy and reported with its phase.
 */
export class JobError extends Error {
  readonly code: string
  constructor(message: string, code = 'JOB_ERROR') {
    super(message)
    this.name = 'JobError'
    this.code = code
  }
}
