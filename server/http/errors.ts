// DRF-shaped HTTP errors: every error response is built here, so the shapes live in one place; the
// job system's domain errors (worker/errors.ts) are mapped to them here too.
import type { FastifyError, FastifyInstance } from 'fastify'
import { isDatabaseUnavailable } from '../../db/index.ts'
import { ConflictError, InputError, NotFoundError, validationBody } from '../../worker/index.ts'

export type ErrorBody = Record<string, unknown>

/** An error whose status, body and headers go to the client as they are. */
export class HttpError extends Error {
  readonly statusCode: number
  readonly body: ErrorBody
  readonly headers: Record<string, string>
  constructor(statusCode: number, body: ErrorBody, headers: Record<string, string> = {}) {
    super(typeof body.detail === 'string' ? body.detail : `HTTP ${statusCode}`)
    this.name = 'HttpError'
    this.statusCode = statusCode
    this.body = body
    this.headers = headers
  }
}

export const notFound = (detail = 'Not found.') => new HttpError(404, { detail })
export const permissionDenied = (detail = 'You do not have permission to perform this action.') => new HttpError(403, { detail })
export const notAuthenticated = () =>
  new HttpError(401, { detail: 'Authentication credentials were not provided.' }, { 'www-authenticate': 'Bearer' })
export const invalidToken = () => new HttpError(401, { detail: 'Invalid token.' }, { 'www-authenticate': 'Bearer' })
export const conflict = (detail: string, extra: ErrorBody = {}) => new HttpError(409, { detail, ...extra })
export const methodNotAllowed = (method: string, allow: string[]) =>
  new HttpError(405, { detail: `Method "${method}" not allowed.` }, { allow: allow.join(', ') })
export const throttled = (seconds: number) => {
  const s = Math.max(1, Math.ceil(seconds))
  return new HttpError(429, { detail: `Request was throttled. Expected available in ${s} second${s === 1 ? '' : 's'}.` }, { 'retry-after': String(s) })
}
/** 400 with DRF's field errors: `{"field": ["message"], "non_field_errors": [...]}`. */
export const validationFailed = (fields: Record<string, string[] | ErrorBody>) => new HttpError(400, fields)
export const payloadTooLarge = () => new HttpError(413, { detail: 'Request body is too large.' })
/** The database is unreachable (restarting, failing over): try again shortly, nothing was changed or it will not be. */
export const DATABASE_UNAVAILABLE = { detail: 'Service temporarily unavailable: the database cannot be reached. Try again shortly.' }
const RETRY_AFTER_SECONDS = '5'

/** Maps every error (ours, Fastify's, a bug's) to its response; 5xx details never leave the server. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HttpError | InputError | NotFoundError | ConflictError, request, reply) => {
    let status: number
    let body: ErrorBody
    if (error instanceof HttpError) {
      status = error.statusCode
      body = error.body
      reply.headers(error.headers)
    } else if (error instanceof InputError) {
      [status, body] = [400, error.fields]
    } else if (error instanceof NotFoundError) {
      [status, body] = [404, { detail: error.message }]
    } else if (error instanceof ConflictError) {
      [status, body] = [409, { detail: error.message, ...error.extra }]
    } else if (error.validation) {
      // A malformed id in the path names no object: that is "not found", as a URL pattern would say.
      if (error.validationContext === 'params') [status, body] = [404, { detail: 'Not found.' }]
      else [status, body] = [400, validationBody(error.validation)]
    } else {
      switch (error.code) {
        case 'FST_ERR_CTP_INVALID_JSON_BODY':
          [status, body] = [400, { detail: `JSON parse error - ${error.message}` }]
          break
        case 'FST_ERR_CTP_BODY_TOO_LARGE':
        case 'FST_REQ_FILE_TOO_LARGE':
        case 'FST_FILES_LIMIT':
        case 'FST_PARTS_LIMIT':
          [status, body] = [413, { detail: 'Request body is too large.' }]
          break
        case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
          [status, body] = [415, { detail: `Unsupported media type "${request.headers['content-type'] ?? ''}" in request.` }]
          break
        default: {
          const code = error.statusCode ?? 500
          if (code >= 400 && code < 500) [status, body] = [code, { detail: error.message }]
          else if (isDatabaseUnavailable(error)) {
            [status, body] = [503, { ...DATABASE_UNAVAILABLE, request_id: request.id }]
            reply.header('retry-after', RETRY_AFTER_SECONDS)
          } else [status, body] = [500, { detail: 'Internal server error.', request_id: request.id }]
        }
      }
    }
    if (status === 503) request.log.warn({ err: { message: error.message, code: (error as { code?: string }).code } }, 'request failed: database unavailable')
    else if (status >= 500) request.log.error({ err: error }, 'request failed')
    return reply.code(status).send(body)
  })
}
