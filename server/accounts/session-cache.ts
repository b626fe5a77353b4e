// The in-process cache of key lookups that keeps authentication off the database. It is only
// used while auth-listener.ts is connected, so every announced change reaches it (see there).
import type { AuthChange, SessionUser } from './sessions.ts'

interface Entry {
  user: Readonly<SessionUser>
  sessionId: string
  /** When the key stops working (ms): the earlier of the session's and the JWT's expiry, checked on every hit. */
  expiresAt: number
  /** Safety net (ms): an entry is reloaded after the TTL even if no announcement arrived. */
  staleAt: number
}

/** What a verified key claims: its session, its user, and the JWT's own expiry (ms). */
export interface KeyClaims {
  sessionId: string
  userId: number
  expiresAt: number
}

type Row = (SessionUser & { expires_at: Date }) | undefined

/**
 * Keyed by the key string itself: a hit is an exact copy of a key whose signature, expiry and
 * session were checked when it was stored, so the hot path does no cryptography and no I/O.
 */
export class SessionCache {
  readonly ttlMs: number
  readonly maxEntries: number
  readonly #entries = new Map<string, Entry>()
  readonly #bySession = new Map<string, Set<string>>()
  readonly #byUser = new Map<number, Set<string>>()
  /** Bumped by every invalidation: a lookup that raced one does not store its (maybe stale) row. */
  #epoch = 0
  #live = false

  constructor(ttlSeconds: number, maxEntries = 50_000) {
    this.ttlMs = ttlSeconds * 1000
    this.maxEntries = maxEntries
  }

  /** True while invalidations can reach this cache (the listener is connected) and caching is on. */
  get live(): boolean {
    return this.#live && this.ttlMs > 0
  }

  get size(): number {
    return this.#entries.size
  }

  setLive(live: boolean): void {
    this.flush()
    this.#live = live
  }

  get(key: string): Readonly<SessionUser> | undefined {
    if (!this.#live) return undefined
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    const now = Date.now()
    if (entry.staleAt > now && entry.expiresAt > now) return entry.user
    this.#remove(key)
    return undefined
  }

  /**
   * Runs the database lookup for a verified key and caches the answer, unless an invalidation
   * arrived meanwhile. Undefined when the session is gone or belongs to another user than claimed.
   */
  async load(key: string, claims: KeyClaims, fetch: () => Promise<Row>): Promise<Readonly<SessionUser> | undefined> {
    const epoch = this.#epoch
    const row = await fetch()
    if (!row || row.id !== claims.userId) return undefined
    const { expires_at: sessionExpiry, ...rest } = row
    const user = Object.freeze(rest)
    if (this.live && epoch === this.#epoch) {
      this.#store(key, { user, sessionId: claims.sessionId, expiresAt: Math.min(sessionExpiry.getTime(), claims.expiresAt), staleAt: Date.now() + this.ttlMs })
    }
    return user
  }

  forget(change: AuthChange): void {
    this.#epoch++
    for (const id of change.sessions ?? []) for (const key of this.#bySession.get(id) ?? []) this.#remove(key)
    for (const id of change.users ?? []) for (const key of this.#byUser.get(id) ?? []) this.#remove(key)
  }

  flush(): void {
    this.#epoch++
    this.#entries.clear()
    this.#bySession.clear()
    this.#byUser.clear()
  }

  #store(key: string, entry: Entry): void {
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next().value // Map keeps insertion order
      if (oldest !== undefined) this.#remove(oldest)
    }
    this.#remove(key)
    this.#entries.set(key, entry)
    index(this.#bySession, entry.sessionId, key)
    index(this.#byUser, entry.user.id, key)
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key)
    if (!entry) return
    this.#entries.delete(key)
    unindex(this.#bySession, entry.sessionId, key)
    unindex(this.#byUser, entry.user.id, key)
  }
}

function index<K>(map: Map<K, Set<string>>, id: K, key: string): void {
  let keys = map.get(id)
  if (!keys) map.set(id, (keys = new Set()))
  keys.add(key)
}

function unindex<K>(map: Map<K, Set<string>>, id: K, key: string): void {
  const keys = map.get(id)
  keys?.delete(key)
  if (keys?.size === 0) map.delete(id)
}
