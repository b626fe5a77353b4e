// Reads a feature's declared result view (worker/features/result-view.ts) against a result
// document: the values at paths, written in their formats. Plain TypeScript, so it is tested
// without a browser; components/ResultView.vue only lays the blocks out.
import type { FeatureInfo } from '../../../server/schemas/features.ts'
import { formatBytes, formatNumber, formatSeconds } from './format.ts'

export type ResultBlock = FeatureInfo['result_view'][number]
export type DownloadFormat = FeatureInfo['download_formats'][number]
export type TableBlock = Extract<ResultBlock, { type: 'table' }>
export type TableColumn = TableBlock['columns'][number]
export type ValueSpec = Extract<ResultBlock, { type: 'summary' }>['items'][number]

/** What a page shows before (or without) a feature's declaration: the document as JSON. */
export const FALLBACK_VIEW: ResultBlock[] = [{ type: 'json' }]

/** The value at a dotted path ('' is `value` itself); undefined where the path leads nowhere. */
export function at(value: unknown, path = ''): unknown {
  let v = value
  for (const key of path ? path.split('.') : []) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[key]
  }
  return v
}

/** The array at `path`, or none (a document that does not fit its declaration shows nothing, not an error). */
export const rowsAt = (doc: unknown, path: string): unknown[] => {
  const v = at(doc, path)
  return Array.isArray(v) ? v : []
}

const NUMERIC = new Set(['number', 'bytes', 'seconds', 'rank', 'share'])
export const isNumeric = (c: TableColumn): boolean => c.numeric ?? NUMERIC.has(c.format ?? 'auto')

function auto(v: unknown): string {
  if (v === null || v === undefined) return '—'
  if (typeof v === 'number') return formatNumber(v)
  if (typeof v === 'boolean') return v ? 'Yes' : 'No'
  if (typeof v === 'string') return v
  return JSON.stringify(v)
}

/** Where a value is read and what it is measured against. */
export interface ValueContext {
  /** The block's context: the document for a summary, the row for a table column. */
  scope: unknown
  /** The whole result document (for `share`'s total). */
  doc: unknown
  /** The row's position (for `rank`). */
  index?: number
}

/** A value as text, in its spec's format (`bar` has no text: see barWidth). */
export function formatValue(spec: ValueSpec, { scope, doc, index = 0 }: ValueContext): string {
  const format = spec.format ?? 'auto'
  if (format === 'rank') return String(index + 1)
  if (format === 'bar') return ''
  const v = at(scope, spec.path ?? '')
  const named = spec.names && (typeof v === 'string' || typeof v === 'number') ? spec.names[String(v)] : undefined
  if (named !== undefined) return named
  const estimate = spec.exact !== undefined && at(scope, spec.exact) === false ? '≈' : ''
  switch (format) {
    case 'number': return typeof v === 'number' ? estimate + formatNumber(v) : auto(v)
    case 'bytes': return typeof v === 'number' ? formatBytes(v) : auto(v)
    case 'seconds': return typeof v === 'number' ? formatSeconds(v) : auto(v)
    case 'share': {
      const total = Number(at(doc, spec.of ?? ''))
      return typeof v === 'number' ? `${((v / Math.max(1, total || 0)) * 100).toFixed(1)}%` : auto(v)
    }
    case 'pairs': {
      if (!Array.isArray(v)) return auto(v)
      const [label, count] = spec.pair ?? ['value', 'count']
      const text = v.map((item) => `${auto(at(item, label))} (${auto(at(item, count))})`).join(', ')
      return text ? estimate + text : '—'
    }
    default: return estimate + auto(v) // auto, text, badge
  }
}

/** A `bar` column's width for one row: its value against the largest in the column, in %. */
export function barWidth(column: TableColumn, rows: unknown[], row: unknown): string {
  const value = (r: unknown) => Number(at(r, column.path ?? '')) || 0
  const most = Math.max(1, ...rows.map(value))
  return `${(value(row) / most) * 100}%`
}
