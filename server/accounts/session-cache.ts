// The in-process cache of key lookups that keeps authentication off the database. It is only
// used while auth-listener.ts is connected, so every announced change reaches it (see there).
import { EventEmitter } from 'node:events'
import { LRUCache } from 'lru-cache'
import type { AuthChange, SessionUser } from './sessions.ts'

interface Entry {
  user: Readonly<SessionUser>
  sessionId: string
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
 * lru-cache does the bounding (least recently used out first) and the expiry; this class adds the
 * per-session and per-user indexes that announcements need, kept in step by lru-cache's `dispose`.
 */
export class SessionCache extends EventEmitter<{
  /** After an announced change was applied: the keys it names no longer answer from here. */
  forget: [change: AuthChange]
  /** After the listener connected (true) or was lost (false); the cache was flushed either way. */
  live: [live: boolean]
}> {
  readonly ttlMs: number
  readonly maxEntries: number
  readonly #entries: LRUCache<string, Entry>
  readonly #bySession = new Map<string, Set<string>>()
  readonly #byUser = new Map<number, Set<string>>()
  /** Bumped by every invalidation: a lookup that raced one does not store its (maybe stale) row. */
  #epoch = 0
  #live = false

  constructor(ttlSeconds: number, maxEntries = 50_000) {
    super()
    this.ttlMs = ttlSeconds * 1000
    this.maxEntries = maxEntries
    // Each entry gets its own TTL at `set` (see #store), so none is given here. `dispose` runs for
    // every way an entry leaves (evicted, expired on a get, deleted, replaced, cleared).
    this.#entries = new LRUCache<string, Entry>({
      max: maxEntries,
      dispose: (entry, key) => {
        unindex(this.#bySession, entry.sessionId, key)
        unindex(this.#byUser, entry.user.id, key)
      },
    })
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
    this.emit('live', live)
  }

  get(key: string): Readonly<SessionUser> | undefined {
    if (!this.#live) return undefined
    // An expired entry is not returned, and lru-cache deletes it on the way.
    return this.#entries.get(key)?.user
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
      this.#store(key, { user, sessionId: claims.sessionId }, Math.min(sessionExpiry.getTime(), claims.expiresAt))
    }
    return user
  }

  forget(change: AuthChange): void {
    this.#epoch++
    // Copies: each delete's dispose edits the very set being walked.
    for (const id of change.sessions ?? []) for (const key of [...this.#bySession.get(id) ?? []]) this.#entries.delete(key)
    for (const id of change.users ?? []) for (const key of [...this.#byUser.get(id) ?? []]) this.#entries.delete(key)
    this.emit('forget', change)
  }

  flush(): void {
    this.#epoch++
    this.#entries.clear()
    this.#bySession.clear()
    this.#byUser.clear()
  }

  /**
   * Stores until the key stops working (`expiresAt`, ms: the earlier of the session's and the JWT's
   * expiry) or the TTL passes, whichever is first: the TTL is the safety net that reloads an entry
   * even if no announcement arrived.
   */
  #store(key: string, entry: Entry, expiresAt: number): void {
    const ttl = Math.floor(Math.min(this.ttlMs, expiresAt - Date.now()))
    if (ttl <= 0) return
    this.#entries.set(key, entry, { ttl }) // a replaced entry is disposed (unindexed) first
    index(this.#bySession, entry.sessionId, key)
    index(this.#byUser, entry.user.id, key)
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
