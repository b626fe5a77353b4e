// The SPA's small typed HTTP layer: JSON (or a FormData) in, JSON out, errors carry the API's body.
// The API key lives in an HttpOnly cookie the browser sends by itself; unsafe methods add the
// X-Requested-With header the server's CSRF check asks for.

/** DRF's validation body: `{"<field>": ["message"], "non_field_errors": [...]}`. */
export type FieldErrors = Record<string, string[]>

export class ApiError extends Error {
  readonly status: number
  readonly body: unknown
  constructor(status: number, body: unknown) {
    super(detailOf(body) ?? (status === 0 ? 'The server could not be reached.' : `The request failed (HTTP ${status}).`))
    this.status = status
    this.body = body
  }

  /** The field errors of a 400, every message a string (nested lists flattened). */
  get fieldErrors(): FieldErrors {
    if (this.status !== 400 || typeof this.body !== 'object' || this.body === null) return {}
    const out: FieldErrors = {}
    for (const [field, messages] of Object.entries(this.body)) {
      if (field === 'detail') continue
      const list = (Array.isArray(messages) ? messages.flat(3) : [messages]).map(String)
      if (list.length > 0) out[field] = list
    }
    return out
  }
}

function detailOf(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && 'detail' in body ? String(body.detail) : undefined
}

const SAFE = new Set(['GET', 'HEAD'])
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** The API root from the server's runtime settings (server/spa.ts); the Vite dev server has none. */
export const apiRoot = (): string => window.__CONVEYOR__?.apiRoot ?? '/api/v1/'
export const apiUrl = (path: string): string => `${apiRoot()}${path}`

let unauthorized: ((path: string) => void) | null = null
/** Called with the path whenever the API answers 401 (the session ended or was revoked). */
export function onUnauthorized(handler: (path: string) => void): void {
  unauthorized = handler
}

export async function request<T>(method: Method, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json', ...headers } }
  const h = init.headers as Record<string, string>
  if (!SAFE.has(method)) h['x-requested-with'] = 'XMLHttpRequest'
  if (body instanceof FormData) init.body = body // the browser writes the multipart boundary
  else if (body !== undefined) {
    h['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let res: Response
  try {
    res = await fetch(apiUrl(path), init)
  } catch {
    throw new ApiError(0, undefined)
  }
  const data: unknown = res.status === 204 ? undefined : await res.json().catch(() => undefined)
  if (!res.ok) {
    if (res.status === 401) unauthorized?.(path)
    throw new ApiError(res.status, data)
  }
  return data as T
}

export const getJson = <T>(path: string): Promise<T> => request<T>('GET', path)
export const postJson = <T>(path: string, body?: unknown): Promise<T> => request<T>('POST', path, body)
