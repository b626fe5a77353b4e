// The error bodies of the HTTP contract (API.md, Conventions), in DRF's shapes. server/http/errors.ts
// builds them; the OpenAPI document names them once, as components every operation refers to.
import { Type, type Static } from '@sinclair/typebox'

/** `{"detail": "..."}`: 401, 403, 404, 405, 413, 415, 429. */
export const ErrorDetailSchema = Type.Object({
  detail: Type.String(),
}, { description: 'DRF error: one message' })
export type ErrorDetail = Static<typeof ErrorDetailSchema>

/**
 * A field's messages: a list, or an object of the same for a nested field. (A string too, only so
 * that generated clients can type `detail` and the fields together: TypeScript's index signatures
 * must admit every named property.)
 */
const FieldErrors = Type.Union([
  Type.Array(Type.String()),
  Type.String(),
  Type.Record(Type.String(), Type.Unknown(), { description: 'Errors of a nested field, keyed as its fields' }),
])

/** 400: every problem at once, on the field it concerns; `detail` alone for malformed JSON. */
export const ValidationErrorSchema = Type.Object({
  non_field_errors: Type.Optional(Type.Array(Type.String(), { description: 'Problems of the body as a whole' })),
  detail: Type.Optional(Type.String({ description: 'Malformed JSON ("JSON parse error - ...") or "Invalid host header."' })),
}, {
  additionalProperties: FieldErrors,
  description: 'DRF validation errors: `{"<field>": ["message", ...], "non_field_errors": ["message"]}`',
})
export type ValidationError = Static<typeof ValidationErrorSchema>

/** 409: the state that forbids the operation (`status` of the request, where there is one). */
export const ConflictErrorSchema = Type.Object({
  detail: Type.String(),
  status: Type.Optional(Type.String({ description: 'The current status of the object' })),
}, { description: 'The object is in a state that does not allow this' })
export type ConflictError = Static<typeof ConflictErrorSchema>

/** 5xx: never a stack trace; the request id finds the logged error. */
export const ServerErrorSchema = Type.Object({
  detail: Type.String(),
  request_id: Type.String({ description: 'The X-Request-Id of the failed request, as logged' }),
}, { description: 'Internal server error' })
export type ServerError = Static<typeof ServerErrorSchema>

/** The schemas above under their component names (`#/components/schemas/<name>`). */
export const errorSchemas = {
  ErrorDetail: ErrorDetailSchema,
  ValidationError: ValidationErrorSchema,
  ConflictError: ConflictErrorSchema,
  ServerError: ServerErrorSchema,
}

const ref = (name: keyof typeof errorSchemas) => ({ $ref: `#/components/schemas/${name}` })
const json = (name: keyof typeof errorSchemas) => ({ 'application/json': { schema: ref(name) } })

/** One OpenAPI response per error status, named as the status (`#/components/responses/<name>`). */
export const errorResponses = {
  ValidationError: {
    description: 'Validation failed (every problem at once, on its field); or `{"detail"}` alone for malformed JSON or a Host not in ALLOWED_HOSTS',
    content: json('ValidationError'),
  },
  NotAuthenticated: {
    description: 'No key, or a bad, expired or revoked one',
    headers: { 'WWW-Authenticate': { description: '`Bearer`', schema: { type: 'string' } } },
    content: json('ErrorDetail'),
  },
  PermissionDenied: { description: 'Not allowed to the caller (or a cookie request without `X-Requested-With`)', content: json('ErrorDetail') },
  NotFound: { description: 'No such object, or not the caller\'s', content: json('ErrorDetail') },
  Conflict: { description: 'Not possible in the object\'s current state', content: json('ConflictError') },
  PayloadTooLarge: { description: 'The body is larger than the configured limit', content: json('ErrorDetail') },
  UnsupportedMediaType: { description: 'A body of a content type the route does not take', content: json('ErrorDetail') },
  Throttled: {
    description: 'Too many attempts: wait before trying again',
    headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
    content: json('ErrorDetail'),
  },
  ServerError: { description: 'Internal server error (details are logged, never sent)', content: json('ServerError') },
} as const

/** The response component for each status code that has one. */
export const errorResponseOf: Record<number, keyof typeof errorResponses> = {
  400: 'ValidationError',
  401: 'NotAuthenticated',
  403: 'PermissionDenied',
  404: 'NotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  429: 'Throttled',
  500: 'ServerError',
}
