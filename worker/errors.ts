// Domain errors: what the job system (and the data it guards) says went wrong, in its own words.
// The HTTP layer maps them to DRF's shapes (server/http/errors.ts); nothing below server/ knows HTTP.

/** The input of a request, a schedule or a field of either is invalid: DRF-style field messages. */
export class InputError extends Error {
  readonly fields: Record<string, unknown>
  constructor(fields: Record<string, unknown>) {
    super(`Invalid input: ${Object.keys(fields).join(', ')}`)
    this.name = 'InputError'
    this.fields = fields
  }
}

/** The object does not exist, or is not the caller's to see. */
export class NotFoundError extends Error {
  constructor(message = 'Not found.') {
    super(message)
    this.name = 'NotFoundError'
  }
}

/** The object exists but its state forbids the operation (results not ready, already finished…). */
export class ConflictError extends Error {
  readonly extra: Record<string, unknown>
  constructor(message: string, extra: Record<string, unknown> = {}) {
    super(message)
    this.name = 'ConflictError'
    this.extra = extra
  }
}
