// Django's four default password validators, with their messages: similarity to the user's
// attributes, minimum length, the common-passwords list, entirely numeric.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'

export const MIN_LENGTH = 8
const MAX_SIMILARITY = 0.7
const COMMON_PASSWORDS_FILE = path.join(import.meta.dirname, 'data', 'common-passwords.txt.gz')

let common: Set<string> | undefined
/** Django's list of 20,000 common passwords, read once on first use. */
export function commonPasswords(): Set<string> {
  common ??= new Set(gunzipSync(readFileSync(COMMON_PASSWORDS_FILE)).toString('utf8').split('\n').map((p) => p.trim()).filter(Boolean))
  return common
}

/** Python's SequenceMatcher(a, b).quick_ratio(): the multiset intersection, an upper bound of ratio(). */
export function quickRatio(a: string, b: string): number {
  const left = Array.from(a)
  const right = Array.from(b)
  const total = left.length + right.length
  if (total === 0) return 1
  const available = new Map<string, number>()
  for (const c of right) available.set(c, (available.get(c) ?? 0) + 1)
  let matches = 0
  for (const c of left) {
    const n = available.get(c) ?? 0
    if (n > 0) matches++
    available.set(c, n - 1)
  }
  return (2 * matches) / total
}

/** Django's shortcut: a value ten times shorter than the password can never be similar enough. */
function exceedsMaximumLengthRatio(password: string, value: string): boolean {
  const pwdLength = Array.from(password).length
  const valueLength = Array.from(value).length
  return pwdLength >= 10 * valueLength && valueLength < (MAX_SIMILARITY / 2) * pwdLength
}

/** The user's attributes the password is compared with, by the name used in the message. */
export interface PasswordContext {
  email?: string | null
  name?: string | null
}

function tooSimilar(password: string, value: string): boolean {
  const lower = value.toLowerCase()
  // Python's re.split(r'\W+'): word characters are letters, digits and the underscore, in Unicode.
  const parts = [...lower.split(/[^\p{L}\p{N}_]+/u), lower]
  return parts.some((part) => !exceedsMaximumLengthRatio(password, part) && quickRatio(password, part) >= MAX_SIMILARITY)
}

/** Every message Django's validators give for `password`, in Django's order; empty when it is acceptable. */
export function validatePassword(password: string, context: PasswordContext = {}): string[] {
  const errors: string[] = []
  const lower = password.toLowerCase()
  const attributes: Array<[string, string | null | undefined]> = [['email address', context.email], ['name', context.name]]
  for (const [label, value] of attributes) {
    if (value && tooSimilar(lower, value)) {
      errors.push(`The password is too similar to the ${label}.`)
      break // Django's validator stops at the first similar attribute
    }
  }
  if (Array.from(password).length < MIN_LENGTH) {
    errors.push(`This password is too short. It must contain at least ${MIN_LENGTH} characters.`)
  }
  if (commonPasswords().has(lower.trim())) errors.push('This password is too common.')
  if (/^\p{Nd}+$/u.test(password)) errors.push('This password is entirely numeric.')
  return errors
}
