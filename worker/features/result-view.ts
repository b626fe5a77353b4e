// Result views: how a feature's result document is shown and downloaded, declared in the feature's
// own file (Feature.result). Pure TypeBox, importing nothing else, because GET /api/v1/features/
// sends these (server/schemas/features.ts) and the client type-checks them from there.
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

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
  pair: Type.Optional(Type.Array(Type.String(), { minItems: 2, maxItems: 2 })), // not a Tuple: OpenAPI 3.0 has no additionalItems
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

/** The two fields of a feature that decide its results' view. */
export interface FeatureResult { result?: ResultDeclaration; toCsv?(data: any): string }

/** A feature's result declaration, or the default: the JSON document, plus CSV if it has `toCsv`. */
export function resultOf(feature: FeatureResult): ResultDeclaration {
  return feature.result ?? { view: [{ type: 'json' }], downloads: feature.toCsv ? ['json', 'csv'] : ['json'] }
}

/** Why a result declaration is unusable, or null: checked when the feature is defined. */
export function resultProblem(feature: FeatureResult): string | null {
  if (feature.result === undefined) return null
  const error = Value.Errors(ResultDeclarationSchema, feature.result).First()
  if (error) return `result${error.path.replaceAll('/', '.')}: ${error.message}`
  if (!feature.result.downloads.includes('json')) return "result.downloads: 'json' is always offered (the API's default format)"
  if (feature.result.downloads.includes('csv') && !feature.toCsv) return "result.downloads: 'csv' needs toCsv()"
  return null
}
