// Password hashing with argon2id (Node's crypto.argon2), stored as PHC strings.
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const argon2Async = promisify(argon2)

/** OWASP's current recommendation for argon2id: 19 MiB of memory, 2 passes, 1 lane. */
export const ARGON2_PARAMS = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 } as const
type Params = { memory: number; passes: number; parallelism: number; tagLength: number }

async function derive(password: string, salt: Buffer, p: Params): Promise<Buffer> {
  return argon2Async('argon2id', { message: Buffer.from(password, 'utf8'), nonce: salt, ...p })
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '')

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const p = ARGON2_PARAMS
  const hash = await derive(password, salt, p)
  return `$argon2id$v=19$m=${p.memory},t=${p.passes},p=${p.parallelism}$${b64(salt)}$${b64(hash)}`
}

interface Parsed { params: Params; salt: Buffer; hash: Buffer }

function parse(encoded: string): Parsed | null {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(encoded)
  if (!m) return null
  const hash = Buffer.from(m[5]!, 'base64')
  return {
    params: { memory: Number(m[1]), passes: Number(m[2]), parallelism: Number(m[3]), tagLength: hash.length },
    salt: Buffer.from(m[4]!, 'base64'),
    hash,
  }
}

/** Constant-time check of `password` against a stored hash; a malformed hash never matches. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parse(encoded)
  if (!parsed) {
    await derive(password, randomBytes(16), ARGON2_PARAMS) // same cost as a real check
    return false
  }
  const candidate = await derive(password, parsed.salt, parsed.params)
  return candidate.length === parsed.hash.length && timingSafeEqual(candidate, parsed.hash)
}

/** True when a hash was made with other parameters than today's: rehash it at the next login. */
export function needsRehash(encoded: string): boolean {
  const parsed = parse(encoded)
  if (!parsed) return true
  const p = parsed.params
  return p.memory !== ARGON2_PARAMS.memory || p.passes !== ARGON2_PARAMS.passes
    || p.parallelism !== ARGON2_PARAMS.parallelism || p.tagLength !== ARGON2_PARAMS.tagLength
}

/**
 * Django's unusable password: "!" and random text. It is no PHC string, so no check ever matches it
 * (verifyPassword), while a password reset still works (its token covers the stored value).
 */
export const UNUSABLE_PASSWORD_PREFIX = '!'
export const unusablePassword = (): string => `${UNUSABLE_PASSWORD_PREFIX}${randomBytes(30).toString('base64url')}`
export const isUsablePassword = (encoded: string): boolean => !encoded.startsWith(UNUSABLE_PASSWORD_PREFIX)

let dummy: Promise<string> | undefined
/** Spends the time of a real verification when there is no user, so timing reveals nothing. */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummy ??= hashPassword(randomBytes(16).toString('hex'))
  await verifyPassword(password, await dummy)
}
