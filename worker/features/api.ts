// The contract of a feature: one file exporting `defineFeature({...})`, loaded by both the API (for
// routes, validation and the feature list) and every worker thread (for the four phases).
// A feature file imports only this module, its own libraries (features/lib/) and db/: it must load
// inside a thread (the layer rule `feature-imports-engine` checks it).
import type { Static, TObject } from '@sinclair/typebox'
import type { Kysely } from 'kysely'
import type { Database } from '../../db/types.ts'
import { resultProblem, type ResultDeclaration } from './result-view.ts'

// What `system` features may do with request files (e.g. the retention purge).
export { removeRequestFiles } from '../requests/media.ts'

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
  /**
   * Writes a line to the job's live log: stored with this attempt and streamed to the request's
   * events (`event: log`). Bounded: lines over 1,000 characters are clipped, and past 500 lines per
   * attempt the oldest are dropped (a marker line says how many).
   */
  log(message: string, level?: 'info' | 'warn' | 'error'): void
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

export { resultOf, resultProblem, type DownloadFormat, type ResultBlock, type ResultDeclaration, type ValueSpec } from './result-view.ts'

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
