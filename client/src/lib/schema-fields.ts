// A feature's input schema (JSON Schema from TypeBox) → the fields of a simple form, and the form's
// values → the request's input. Handles what features use: strings (a textarea when long),
// integers and numbers, booleans, and choices (`enum`, or TypeBox's union of literals).
// Plain TypeScript with no imports, so the tests run it in Node.

/** The subset of JSON Schema a feature's input uses (TypeBox output). */
export interface JsonSchema {
  type?: string | string[]
  title?: string
  description?: string
  default?: unknown
  enum?: unknown[]
  const?: unknown
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  properties?: Record<string, JsonSchema>
  required?: string[]
}

export type FieldKind = 'text' | 'textarea' | 'integer' | 'number' | 'boolean' | 'choice'

export interface Field {
  name: string
  label: string
  hint?: string
  kind: FieldKind
  required: boolean
  /** The form's initial value (checkbox: boolean; everything else: text). */
  initial: string | boolean
  min?: number
  max?: number
  minLength?: number
  maxLength?: number
  options?: { value: string | number | boolean; label: string }[]
}

// Number inputs give numbers (Vue's v-model casts them), the others text; checkboxes booleans.
export type FormValues = Record<string, string | number | boolean>

// Strings longer than this get a textarea.
const LONG_TEXT = 500
const NAMED_CHARACTERS: Record<string, string> = { '\t': 'Tab', ' ': 'Space', ',': 'Comma ( , )', ';': 'Semicolon ( ; )', '|': 'Pipe ( | )' }

const humanize = (name: string) => {
  const words = name.replace(/[_-]+/g, ' ').trim()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

function choices(schema: JsonSchema): Field['options'] | undefined {
  const values = schema.enum ?? (schema.anyOf ?? schema.oneOf)?.map((s) => s.const)
  if (!values || values.length === 0 || values.some((v) => v === undefined || (typeof v === 'object' && v !== null))) return undefined
  return (values as (string | number | boolean)[]).map((value) => ({ value, label: NAMED_CHARACTERS[String(value)] ?? String(value) }))
}

function kindOf(schema: JsonSchema): FieldKind {
  if (choices(schema)) return 'choice'
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type
  if (type === 'integer' || type === 'number' || type === 'boolean') return type
  return schema.maxLength === undefined || schema.maxLength > LONG_TEXT ? 'textarea' : 'text'
}

export function schemaFields(schema: JsonSchema): Field[] {
  const required = new Set(schema.required ?? [])
  return Object.entries(schema.properties ?? {}).map(([name, s]) => {
    const kind = kindOf(s)
    const options = kind === 'choice' ? choices(s) : undefined
    const initial = kind === 'boolean' ? s.default === true : s.default === undefined ? '' : String(s.default)
    return {
      name, kind, options, initial,
      label: s.title ?? humanize(name),
      hint: s.description,
      required: required.has(name),
      min: s.minimum, max: s.maximum, minLength: s.minLength, maxLength: s.maxLength,
    }
  })
}

export const initialValues = (fields: Field[]): FormValues => Object.fromEntries(fields.map((f) => [f.name, f.initial]))

/**
 * The input to send: empty optional fields left out (the server applies its defaults), numbers as
 * numbers, choices as their typed value. Text that is not a number is sent as typed, so the server's
 * message about it shows next to the field.
 */
export function toInput(fields: Field[], values: FormValues): Record<string, unknown> {
  const input: Record<string, unknown> = {}
  for (const f of fields) {
    const v = values[f.name]
    if (f.kind === 'boolean') {
      input[f.name] = v === true
      continue
    }
    if (typeof v === 'number') input[f.name] = v
    if (typeof v !== 'string' || v.trim() === '') continue
    if (f.kind === 'integer' || f.kind === 'number') input[f.name] = Number.isFinite(Number(v)) ? Number(v) : v
    else if (f.kind === 'choice') input[f.name] = f.options?.find((o) => String(o.value) === v)?.value ?? v
    else input[f.name] = v
  }
  return input
}
