// Validation of a request's input against its feature: the schema (DRF field errors, every problem at
// once), the file rules and the feature's own cross-field checks. Shared by create/ and createRequest.
import type { ValidateFunction } from 'ajv'
import { InputError } from '../errors.ts'
import type { Feature } from '../features/api.ts'
import { validationBody, validatorCompiler } from './schema-validation.ts'

interface Validators { strict: ValidateFunction; coercing: ValidateFunction }
const compiled = new WeakMap<Feature, Validators>()

function validators(feature: Feature): Validators {
  let v = compiled.get(feature)
  if (!v) {
    // The app's own compiler: bodies strictly typed; multipart fields are text, so coerced like a query.
    const compile = (httpPart: string) => validatorCompiler({ schema: feature.input, httpPart })
    v = { strict: compile('body'), coercing: compile('querystring') }
    compiled.set(feature, v)
  }
  return v
}

function describe(value: unknown): string {
  return Array.isArray(value) ? 'list' : value === null ? 'null' : typeof value
}

/** The validated input (defaults applied, unknown fields dropped), or an InputError naming every problem. */
export function validateInput(
  feature: Feature,
  raw: unknown,
  options: { coerce?: boolean; upload?: { name: string; size: number } | null } = {},
): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputError({ non_field_errors: [`Invalid data. Expected a dictionary, but got ${describe(raw)}.`] })
  }
  const input = structuredClone(raw) as Record<string, unknown>
  const validate = options.coerce ? validators(feature).coercing : validators(feature).strict
  const errors: Record<string, any> = validate(input) ? {} : validationBody(validate.errors ?? [])
  const upload = options.upload ?? null
  if (!feature.file && upload) errors.file = ['This feature does not accept files.']
  if (feature.file?.required && !upload) errors.file = ['No file was submitted.']
  if (Object.keys(errors).length === 0 && feature.checkInput) Object.assign(errors, feature.checkInput(input, upload) ?? {})
  if (Object.keys(errors).length > 0) throw new InputError(errors)
  const known = Object.keys(feature.input.properties)
  return Object.fromEntries(Object.entries(input).filter(([k]) => known.includes(k)))
}
