// Multipart creates: fields collected as text, the `file` part streamed straight to disk under the
// request's folder with the size limit and the feature's content checks (extension, content type,
// UTF-8 text) applied while it streams: nothing is held in memory whole.
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyRequest } from 'fastify'
import type { MultipartFile } from '@fastify/multipart'
import type { UploadInfo } from '../../db/types.ts'
import { inputDir, safeFileName, type Feature } from '../../worker/index.ts'
import { HttpError, payloadTooLarge, validationFailed } from '../http/errors.ts'
import { inputProblems } from '../http/input-safety.ts'

/** Passes bytes through while checking they are UTF-8 text; after the first bad byte it only drains. */
class TextCheck extends Transform {
  readonly #decoder = new TextDecoder('utf-8', { fatal: true })
  problem: string | null = null
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.problem) return done()
    if (chunk.includes(0)) this.problem = 'The file is not a text file (it contains binary data).'
    else {
      try {
        this.#decoder.decode(chunk, { stream: true })
      } catch {
        this.problem = 'The file is not valid UTF-8 text.'
      }
    }
    done(null, this.problem ? undefined : chunk)
  }
  override _flush(done: TransformCallback): void {
    if (!this.problem) {
      try {
        this.#decoder.decode()
      } catch {
        this.problem = 'The file is not valid UTF-8 text.'
      }
    }
    done()
  }
}

/** Form fields beside the file: at most this many, each at most FIELD_SIZE, all together at most the JSON body limit. */
export const MAX_FIELDS = 50
export const FIELD_SIZE = 1024 * 1024

/**
 * The parser's own complaints (no boundary, a boundary too long, a form cut short) are plain Errors
 * with no code: the client's fault, a 400. Ours carry a status; the file system's an errno code.
 */
function isMalformedForm(err: unknown): err is Error {
  if (!(err instanceof Error) || err instanceof HttpError) return false
  const { code, statusCode } = err as { code?: unknown; statusCode?: unknown }
  return code === undefined && statusCode === undefined
}

export interface MultipartCreate {
  fields: Record<string, unknown>
  upload: UploadInfo | null
}

/**
 * Reads a multipart create into `fields` and, if present, the `file` part at MEDIA_ROOT/<id>/input/.
 * The fields are held in memory, so they are bounded like a JSON body is (`bodyLimit` in all).
 */
export async function readMultipart(request: FastifyRequest, feature: Feature, id: string, mediaRoot: string, limit: number, bodyLimit: number): Promise<MultipartCreate> {
  const declared = Number(request.headers['content-length'])
  // Refuse an upload that announces it is too big before reading a byte of it.
  if (Number.isFinite(declared) && declared > limit + 1024 * 1024) throw payloadTooLarge()
  const fields: Record<string, unknown> = {}
  const errors: Record<string, string[]> = {}
  let upload: UploadInfo | null = null
  const fieldSize = Math.min(FIELD_SIZE, bodyLimit)
  let fieldBytes = 0
  try {
    const parts = request.parts({ limits: { fileSize: limit, files: 1, fields: MAX_FIELDS, fieldSize } })
    for await (const part of parts) {
      if (part.type === 'field') {
        // busboy cuts a value at fieldSize and says so: a cut value is never taken as input.
        if (part.valueTruncated) throw payloadTooLarge()
        fieldBytes += Buffer.byteLength(part.fieldname) + Buffer.byteLength(typeof part.value === 'string' ? part.value : JSON.stringify(part.value) ?? '')
        if (fieldBytes > bodyLimit) throw payloadTooLarge()
        fields[part.fieldname] = part.value
        continue
      }
      await readFilePart(part)
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'FST_FIELDS_LIMIT') throw new HttpError(413, { detail: `Too many form fields: at most ${MAX_FIELDS}.` })
    throw isMalformedForm(err) ? new HttpError(400, { detail: `Multipart form parse error - ${(err as Error).message}` }) : err
  }
  Object.assign(errors, inputProblems(fields) ?? {})
  if (Object.keys(errors).length > 0) throw validationFailed(errors)
  return { fields, upload }

  async function readFilePart(part: MultipartFile): Promise<void> {
    const accept = feature.file
    const name = safeFileName(part.filename)
    const ext = path.extname(name).toLowerCase()
    const type = part.mimetype.split(';')[0]!.trim().toLowerCase()
    let problem: string | null = null
    if (part.fieldname !== 'file') problem = 'Unexpected file field.'
    else if (!accept) problem = 'This feature does not accept files.'
    else if (!accept.extensions.includes(ext)) {
      problem = `File extension “${ext.slice(1)}” is not allowed. Allowed extensions are: ${accept.extensions.map((e) => e.slice(1)).join(', ')}.`
    } else if (!accept.contentTypes.includes(type)) problem = `Unsupported content type "${type}".`
    if (problem || !accept) {
      errors[part.fieldname] = [problem!]
      part.file.resume() // drain: busboy hands over the next part only after this one is read
      return
    }
    const dir = inputDir(mediaRoot, id)
    await mkdir(dir, { recursive: true })
    const target = path.join(dir, name)
    const check = accept.text ? new TextCheck() : null
    let size = 0
    const count = new Transform({ transform(chunk: Buffer, _e, done) { size += chunk.length; done(null, chunk) } })
    await pipeline([part.file, count, ...(check ? [check] : []), createWriteStream(target)])
    if (part.file.truncated) {
      await rm(target, { force: true })
      throw payloadTooLarge()
    }
    if (check?.problem) errors.file = [check.problem]
    else if (size === 0) errors.file = ['The submitted file is empty.']
    else upload = { name, size, content_type: type }
    if (!upload) await rm(target, { force: true })
  }
}
