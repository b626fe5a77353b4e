// Schema validation with DRF's semantics (shared by the HTTP routes and the job system's own checks): strict types for bodies, every problem reported at once
// with DRF's messages, coercion only where the wire format is text (query strings, paths).
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, useDefaults: true, ...options })
  addFormats.default(ajv)
  // TypeBox puts these keywords on its schemas; they mean nothing to validation.
  ajv.addKeyword({ keyword: 'x-kind' })
  return ajv
}

const strict = makeAjv({ coerceTypes: false })
const coercing = makeAjv({ coerceTypes: 'array', removeAdditional: false })

/** Bodies are validated strictly (`{"text": 12345}` is an error); other parts are coerced from text. */
export const validatorCompiler = ({ schema, httpPart }: { schema: unknown; httpPart?: string }): ValidateFunction =>
  (httpPart === 'body' ? strict : coercing).compile(schema as object)

function typeMessage(type: string): string {
  switch (type) {
    case 'string': return 'Not a valid string.'
    case 'integer': return 'A valid integer is required.'
    case 'number': return 'A valid number is required.'
    case 'boolean': return 'Must be a valid boolean.'
    case 'array': return 'Expected a list of items.'
    case 'object': return 'Expected a dictionary of items.'
    default: return 'Invalid value.'
  }
}

function formatMessage(format: string): string {
  switch (format) {
    case 'email': return 'Enter a valid email address.'
    case 'uuid': return 'Must be a valid UUID.'
    case 'date-time': return 'Datetime has wrong format.'
    case 'uri': case 'url': return 'Enter a valid URL.'
    default: return `Enter a valid ${format}.`
  }
}

function message(e: ErrorObject): string {
  const p = e.params as Record<string, any>
  switch (e.keyword) {
    case 'required': return 'This field is required.'
    case 'type':
      if (e.data === null) return 'This field may not be null.'
      return typeMessage(Array.isArray(p.type) ? p.type[0] : p.type)
    case 'minLength':
      if (e.data === '') return 'This field may not be blank.'
      return `Ensure this field has at least ${p.limit} characters.`
    case 'maxLength': return `Ensure this field has no more than ${p.limit} characters.`
    case 'minimum': return `Ensure this value is greater than or equal to ${p.limit}.`
    case 'maximum': return `Ensure this value is less than or equal to ${p.limit}.`
    case 'exclusiveMinimum': return `Ensure this value is greater than ${p.limit}.`
    case 'exclusiveMaximum': return `Ensure this value is less than ${p.limit}.`
    case 'minItems': return `Ensure this field has at least ${p.limit} elements.`
    case 'maxItems': return `Ensure this field has no more than ${p.limit} elements.`
    case 'format': return formatMessage(p.format)
    case 'pattern': return 'This value does not match the required pattern.'
    case 'enum': case 'const': case 'anyOf': return `"${String(e.data)}" is not a valid choice.`
    default: return e.message ? `${e.message[0]!.toUpperCase()}${e.message.slice(1)}.` : 'Invalid value.'
  }
}

/** Turns ajv's errors into DRF's body: `{"field": ["msg"]}`, nested for nested fields. */
export function validationBody(errors: ErrorObject[]): Record<string, any> {
  const body: Record<string, any> = {}
  // A union reports its failed branches and then itself: keep only the union's own message.
  const unions = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath)
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && unions.some((u) => e.instancePath === u || e.instancePath.startsWith(`${u}/`))) continue
    const segments = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    if (e.keyword === 'required') segments.push((e.params as { missingProperty: string }).missingProperty)
    if (segments.length === 0) {
      const got = Array.isArray(e.data) ? 'list' : e.data === null ? 'null' : typeof e.data
      ;(body.non_field_errors ??= []).push(e.keyword === 'type' ? `Invalid data. Expected a dictionary, but got ${got}.` : message(e))
      continue
    }
    let node = body
    for (const s of segments.slice(0, -1)) node = node[s] = Array.isArray(node[s]) || !node[s] ? {} : node[s]
    const leaf = segments.at(-1)!
    const list: string[] = Array.isArray(node[leaf]) ? node[leaf] : (node[leaf] = [])
    const m = message(e)
    if (!list.includes(m)) list.push(m)
  }
  return body
}
