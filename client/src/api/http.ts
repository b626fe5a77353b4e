// The SPA's small typed HTTP layer: JSON in and out, errors carry the API's body.
export class ApiError extends Error {
  readonly status: number
  readonly body: unknown
  constructor(status: number, body: unknown) {
    super(typeof body === 'object' && body && 'detail' in body ? String((body as { detail: unknown }).detail) : `HTTP ${status}`)
    this.status = status
    this.body = body
  }
}

const apiRoot = () => window.__CONVEYOR__?.apiRoot ?? '/api/v1/'

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${apiRoot()}${path}`, { credentials: 'same-origin', headers: { accept: 'application/json' } })
  const body = await res.json().catch(() => undefined)
  if (!res.ok) throw new ApiError(res.status, body)
  return body as T
}
