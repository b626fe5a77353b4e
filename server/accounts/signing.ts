// Signed, expiring tokens for e-mail links: verification keys (allauth's HMAC mode) and password
// reset tokens (Django's PasswordResetTokenGenerator). Neither is stored: the signature is the proof.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { User } from '../../db/types.ts'

/** Django's salted_hmac: a key per purpose, derived from the secret key, so tokens never cross purposes. */
function saltedHmac(salt: string, secret: string, value: string): Buffer {
  const key = createHash('sha256').update(`${salt}${secret}`).digest()
  return createHmac('sha256', key).update(value).digest()
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const BASE36 = /^[0-9a-z]{1,10}$/

/** Parses a base-36 integer as Django's base36_to_int, refusing anything longer or larger than ours. */
export function fromBase36(text: string): number | null {
  if (!BASE36.test(text)) return null
  const n = parseInt(text, 36)
  return Number.isSafeInteger(n) ? n : null
}

export const toBase36 = (n: number) => n.toString(36)
const nowSeconds = () => Math.floor(Date.now() / 1000)

// ---- e-mail verification keys: <uid36>.<expiry36>.<signature> over user id + e-mail + expiry ----

const VERIFY_SALT = 'conveyor.accounts.email-verification'

function verificationSignature(secret: string, userId: number, email: string, expires: number): string {
  return saltedHmac(VERIFY_SALT, secret, `${userId}|${email.toLowerCase()}|${expires}`).toString('base64url')
}

export function makeVerificationKey(secret: string, user: Pick<User, 'id' | 'email'>, ttlSeconds: number, now = nowSeconds()): string {
  const expires = now + Math.round(ttlSeconds)
  return `${toBase36(user.id)}.${toBase36(expires)}.${verificationSignature(secret, user.id, user.email, expires)}`
}

/** The user id a key names, or null when it is malformed or expired (the signature is checked by verifyKeyFor). */
export function parseVerificationKey(key: string): { userId: number; expires: number; signature: string } | null {
  const [uid, exp, signature, extra] = key.split('.')
  const userId = fromBase36(uid ?? '')
  const expires = fromBase36(exp ?? '')
  if (userId === null || expires === null || !signature || extra !== undefined) return null
  if (expires <= nowSeconds()) return null
  return { userId, expires, signature }
}

export function verificationKeyMatches(secret: string, key: string, user: Pick<User, 'id' | 'email'>): boolean {
  const parsed = parseVerificationKey(key)
  if (!parsed || parsed.userId !== user.id) return false
  return sameString(parsed.signature, verificationSignature(secret, user.id, user.email, parsed.expires))
}

// ---- password reset tokens: <timestamp36>-<hmac>, as Django's; single-use because the hash covers the password ----

const RESET_SALT = 'conveyor.accounts.password-reset'
type ResetUser = Pick<User, 'id' | 'email' | 'password' | 'last_login'>

function resetHash(secret: string, user: ResetUser, timestamp: number): string {
  // A new password or a new login changes the value, so a used (or stale) token stops matching.
  const login = user.last_login ? String(user.last_login.getTime()) : ''
  const value = `${user.id}${user.password}${login}${timestamp}${user.email}`
  const hex = saltedHmac(RESET_SALT, secret, value).toString('hex')
  let half = ''
  for (let i = 0; i < hex.length; i += 2) half += hex[i] // Django keeps every other character
  return half
}

export function makeResetToken(secret: string, user: ResetUser, now = nowSeconds()): string {
  return `${toBase36(now)}-${resetHash(secret, user, now)}`
}

export function resetTokenMatches(secret: string, token: string, user: ResetUser, timeoutSeconds: number): boolean {
  const [ts36, hash, extra] = token.split('-')
  const timestamp = fromBase36(ts36 ?? '')
  if (timestamp === null || !hash || extra !== undefined) return false
  if (!sameString(hash, resetHash(secret, user, timestamp))) return false
  return nowSeconds() - timestamp <= timeoutSeconds
}
