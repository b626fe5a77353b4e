// Helpers for the job-engine tests: an app (optionally with its engine) on its own media folder,
// the test-only features, and polling with a deadline instead of sleeps.
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { api, build, userWithToken, type Built, type BuildOptions } from '../helper.ts'

export const TEST_FEATURES = path.join(import.meta.dirname, 'fixtures', 'test-features.ts')

export async function buildJobs(t: Test, options: BuildOptions = {}): Promise<Built & { media: string }> {
  const media = await mkdtemp(path.join(os.tmpdir(), 'conveyor-media-'))
  t.teardown(() => rm(media, { recursive: true, force: true }))
  const built = await build(t, {
    ...options,
    env: { MEDIA_ROOT: media, FEATURE_MODULES: TEST_FEATURES, JOB_CANCEL_GRACE_SECONDS: '1', SHUTDOWN_GRACE_SECONDS: '2', ...options.env },
  })
  return { ...built, media }
}

/**
 * Polls `fn` until `ok` holds or the deadline passes (then fails with the last value). With
 * `changes` (a subscription: it calls `notify` when something may have changed, and returns its
 * unsubscribe), a wait ends at the next notification, and `intervalMs` is only the net for a missed one.
 */
export async function until<T>(fn: () => Promise<T>, ok: (value: T) => boolean, { timeoutMs = 20_000, intervalMs = 20, changes }: {
  timeoutMs?: number; intervalMs?: number; changes?: (notify: () => void) => () => void
} = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let changed = false
  let wake: (() => void) | null = null
  const off = changes?.(() => { changed = true; wake?.() })
  try {
    for (;;) {
      changed = false
      const value = await fn()
      if (ok(value)) return value
      if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`)
      if (changed) continue // notified while reading: read again at once
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs)
        wake = () => { clearTimeout(timer); resolve() }
      })
      wake = null
    }
  } finally {
    off?.()
  }
}

export async function client(built: Built) {
  const { headers, user } = await userWithToken(built)
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, extra: Record<string, string> = {}) =>
    api(built.app, { method, url, headers: { ...headers, ...extra }, ...(payload === undefined ? {} : { payload: payload as any }) })
  return {
    user,
    headers,
    call,
    create: (feature: string, input: unknown, extra: Record<string, string> = {}) => call('POST', `/api/v1/${feature}/create/`, input, extra),
    status: (feature: string, id: string) => call('GET', `/api/v1/${feature}/status/${id}/`),
    /** Waits until the request reaches `status` (any terminal one by default). */
    settle: (feature: string, id: string, statuses = ['completed', 'failed', 'cancelled'], timeoutMs?: number) =>
      settled(built.app, () => call('GET', `/api/v1/${feature}/status/${id}/`), id, (r) => statuses.includes(r.data?.status), timeoutMs).then((r) => r.data),
  }
}

/**
 * `until` for one request's state, woken by that request's status events (the app's LISTEN, which
 * SSE clients use too) rather than reading every 20 ms: a job that takes seconds on a loaded
 * machine costs a few reads, not hundreds of requests.
 */
export async function settled<T>(app: FastifyInstance, read: () => Promise<T>, id: string, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const events = await app.requestEvents()
  return until(read, ok, { timeoutMs, intervalMs: 250, changes: (notify) => events.subscribe(id, notify) })
}

/** A multipart body with fields and one file part. */
export function multipart(fields: Record<string, string>, file?: { name: string; content: string | Buffer; type?: string; field?: string }) {
  const boundary = `----conveyor${Math.random().toString(16).slice(2)}`
  const chunks: Buffer[] = []
  for (const [k, v] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`))
  }
  if (file) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? 'file'}"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'text/plain'}\r\n\r\n`))
    chunks.push(Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}
