// Where a request's files live: MEDIA_ROOT/<request id>/{input,output,attempt-N}/. Every path built
// from client input goes through `insideDir`, so nothing a client sends can leave the request's folder.
import { rm } from 'node:fs/promises'
import path from 'node:path'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function requestDir(mediaRoot: string, requestId: string): string {
  if (!UUID.test(requestId)) throw new Error(`not a request id: ${requestId}`)
  return path.join(mediaRoot, requestId)
}

export const inputDir = (mediaRoot: string, id: string): string => path.join(requestDir(mediaRoot, id), 'input')
export const outputDir = (mediaRoot: string, id: string): string => path.join(requestDir(mediaRoot, id), 'output')
export const attemptDir = (mediaRoot: string, id: string, attempt: number): string => path.join(requestDir(mediaRoot, id), `attempt-${attempt}`)

/** `dir/name` if it stays inside `dir` and names a plain entry (no separators, no dot-dot); else null. */
export function insideDir(dir: string, name: string): string | null {
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name)) return null
  const full = path.resolve(dir, name)
  return path.dirname(full) === path.resolve(dir) ? full : null
}

/** A safe file name from a client's: its last path segment, without control characters, ≤ 200 chars. */
export function safeFileName(name: string, fallback = 'upload'): string {
  const base = name.split(/[/\\]/).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().replace(/^\.+/, '')
  if (!clean) return fallback
  const ext = path.extname(clean).slice(0, 20)
  return clean.length <= 200 ? clean : clean.slice(0, 200 - ext.length) + ext
}

export async function removeRequestFiles(mediaRoot: string, id: string): Promise<void> {
  await rm(requestDir(mediaRoot, id), { recursive: true, force: true })
}
