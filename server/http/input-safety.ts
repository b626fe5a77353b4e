// Input no handler should ever see: NUL characters (PostgreSQL's text and jsonb refuse them, so they
// ended as 500s), lone UTF-16 surrogates (not text at all: jsonb refuses them, text columns would
// silently store U+FFFD) and values nested past any real use (structuredClone and the database
// recurse on them). Refused at the door as DRF does, with DRF's messages, on every route.
import type { FastifyInstance } from 'fastify'
import { notFound, validationFailed } from './errors.ts'

/** Deeper than any real input; deep enough for any real input. */
export const MAX_DEPTH = 64

const NULL_MESSAGE = 'Null characters are not allowed.'
const DEPTH_MESSAGE = `Nested too deeply: at most ${MAX_DEPTH} levels.`

/** DRF's ProhibitSurrogateCharactersValidator message, naming the first lone surrogate. */
function surrogateMessage(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++
    else if (c >= 0xd800 && c <= 0xdfff) return `Surrogate characters are not allowed: U+${c.toString(16).toUpperCase()}.`
  }
  return 'Surrogate characters are not allowed.'
}

function stringProblem(s: string): string | null {
  if (s.includes('\u0000')) return NULL_MESSAGE
  if (!s.isWellFormed()) return surrogateMessage(s)
  return null
}

/** The first problem anywhere in `value` (keys included), walked without recursion. */
export function valueProblem(value: unknown): string | null {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v === 'string') {
      const p = stringProblem(v)
      if (p) return p
    } else if (v !== null && typeof v === 'object') {
      if (depth > MAX_DEPTH) return DEPTH_MESSAGE
      if (Array.isArray(v)) for (const item of v) stack.push([item, depth + 1])
      else {
        for (const [k, item] of Object.entries(v)) {
          const p = stringProblem(k)
          if (p) return p
          stack.push([item, depth + 1])
        }
      }
    }
  }
  return null
}

/** DRF field errors for a body, a query or a form: each offending top-level field named. */
export function inputProblems(input: unknown): Record<string, string[]> | null {
  const errors: Record<string, string[]> = {}
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    for (const [k, v] of Object.entries(input)) {
      const keyProblem = stringProblem(k)
      if (keyProblem) (errors.non_field_errors ??= []).push(keyProblem)
      else {
        const p = valueProblem(v)
        if (p) errors[k] = [p]
      }
    }
  } else {
    const p = valueProblem(input)
    if (p) errors.non_field_errors = [p]
  }
  return Object.keys(errors).length > 0 ? errors : null
}

/** Every route: path parameters (a bad one names nothing: 404), then query and body (400), before validation. */
export function registerInputSafety(app: FastifyInstance): void {
  app.addHook('preValidation', (request, _reply, done) => {
    if (inputProblems(request.params)) return done(notFound())
    const problems = inputProblems(request.query) ?? inputProblems(request.body)
    done(problems ? validationFailed(problems) : undefined)
  })
}
