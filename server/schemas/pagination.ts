// DRF's page: `?page=N&page_size=M` → {count, next, previous, results} (server/http/pagination.ts does the arithmetic).
import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** Query fields for a paginated route (kept as text: DRF's own parsing rules apply, not coercion). */
export const PageQuery = {
  page: Type.Optional(Type.String()),
  page_size: Type.Optional(Type.String()),
}

export const PageSchema = <T extends TSchema>(item: T) => Type.Object({
  count: Type.Integer(),
  next: Type.Union([Type.String(), Type.Null()]),
  previous: Type.Union([Type.String(), Type.Null()]),
  results: Type.Array(item),
})

/** A page of `T` (for the client). */
export type Page<T> = { count: number; next: string | null; previous: string | null; results: T[] }
export type PageOf<S extends TSchema> = Static<ReturnType<typeof PageSchema<S>>>
