// What GET /api/v1/features/ says about each feature: the route's response schema and, through
// `import type`, the web client's FeatureInfo. The result view's shapes belong to the feature API.
import { Type, type Static } from '@sinclair/typebox'
import { DownloadFormatSchema, ResultBlockSchema } from '../../worker/features/result-view.ts'

export const FeatureInfoSchema = Type.Object({
  name: Type.String(),
  title: Type.String(),
  description: Type.String(),
  input_schema: Type.Any(),
  accepts_file: Type.Boolean(),
  /** How to show a completed request's result document, block by block (the feature's `result.view`). */
  result_view: Type.Array(ResultBlockSchema),
  /** The `format`s download-results/ accepts for this feature. */
  download_formats: Type.Array(DownloadFormatSchema),
})

export type FeatureInfo = Static<typeof FeatureInfoSchema>
