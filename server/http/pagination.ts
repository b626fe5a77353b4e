// DRF's PageNumberPagination: `?page=N&page_size=M` → {count, next, previous, results}; a page past
// the end (or not a number) is 404 "Invalid page.". Page 1 always exists, even when empty.
// The page's shape is server/schemas/pagination.ts.
import type { FastifyRequest } from 'fastify'
import { notFound } from './errors.ts'

export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100

export interface Page {
  number: number
  size: number
  limit: number
  offset: number
}

/** The page a request asks for, given the total count; throws 404 "Invalid page." when it does not exist. */
export function resolvePage(query: { page?: string; page_size?: string }, count: number, defaultSize = DEFAULT_PAGE_SIZE): Page {
  // An unusable page_size falls back to the default, as DRF does; a large one is capped.
  const askedSize = Number(query.page_size)
  const size = Number.isInteger(askedSize) && askedSize > 0 ? Math.min(askedSize, MAX_PAGE_SIZE) : defaultSize
  const pages = Math.max(1, Math.ceil(count / size))
  const raw = query.page ?? '1'
  const number = raw === 'last' ? pages : /^\d+$/.test(raw) ? Number(raw) : NaN
  if (!Number.isInteger(number) || number < 1 || number > pages) throw notFound('Invalid page.')
  return { number, size, limit: size, offset: (number - 1) * size }
}

/** Absolute URL of `path` on the host the client used (as DRF's build_absolute_uri). */
export function absoluteUrl(request: FastifyRequest, path: string): string {
  return `${request.protocol}://${request.host}${path}`
}

function pageUrl(request: FastifyRequest, number: number | null): string {
  const url = new URL(request.url, 'http://placeholder')
  // Page 1 is the URL without `page`, as DRF links it.
  if (number === null || number === 1) url.searchParams.delete('page')
  else url.searchParams.set('page', String(number))
  return absoluteUrl(request, `${url.pathname}${url.search}`)
}

export function pageBody<T>(request: FastifyRequest, page: Page, count: number, results: T[]) {
  const hasNext = page.offset + page.size < count
  return {
    count,
    next: hasNext ? pageUrl(request, page.number + 1) : null,
    previous: page.number > 1 ? pageUrl(request, page.number - 1) : null,
    results,
  }
}
