// The configured OpenID Connect providers, each discovered from its issuer once and kept: discovery
// starts when the app is ready, a failure is logged (never thrown at start-up) and retried at the
// next sign-in through that provider. Tokens are checked by openid-client against this discovery.
import * as oidc from 'openid-client'
import type { FastifyBaseLogger } from 'fastify'
import type { OidcProviderConfig } from '../../config.ts'

/** Seconds an issuer may take to answer discovery (and, later, each token or JWKS request). */
const TIMEOUT_SECONDS = 5

export class OidcProvider {
  readonly id: string
  readonly name: string
  readonly issuer: string
  readonly clientId: string
  readonly #clientSecret: string
  readonly #log: FastifyBaseLogger
  #discovery: Promise<oidc.Configuration> | null = null

  constructor(settings: OidcProviderConfig, log: FastifyBaseLogger) {
    this.id = settings.id
    this.name = settings.name
    this.issuer = settings.issuer
    this.clientId = settings.clientId
    this.#clientSecret = settings.clientSecret
    this.#log = log
  }

  /** The discovered configuration; a failed discovery is forgotten, so the next call tries again. */
  configuration(): Promise<oidc.Configuration> {
    this.#discovery ??= this.#discover().then((config) => {
      this.#log.info({ provider: this.id, issuer: this.issuer }, `social login: ${this.name} discovered`)
      return config
    }, (err: unknown) => {
      this.#discovery = null
      this.#log.error({ provider: this.id, issuer: this.issuer, reason: describeError(err) },
        `social login: provider "${this.id}" is unavailable: discovery at ${this.issuer}/.well-known/openid-configuration failed (${describeError(err)})`)
      throw err
    })
    return this.#discovery
  }

  #discover(): Promise<oidc.Configuration> {
    // ID tokens from the token endpoint are checked against the provider's JWKS too (openid-client
    // trusts TLS alone by default); plain http is only possible for loopback issuers (config.ts).
    const execute = [oidc.enableNonRepudiationChecks]
    if (new URL(this.issuer).protocol === 'http:') execute.push(oidc.allowInsecureRequests)
    return oidc.discovery(new URL(this.issuer), this.clientId, this.#clientSecret, oidc.ClientSecretBasic(this.#clientSecret), {
      execute, timeout: TIMEOUT_SECONDS,
    })
  }

  /** Settles the discovery in flight, if any (so closing the app leaves no request behind). */
  async settle(): Promise<void> {
    await this.#discovery?.catch(() => {})
  }
}

export class OidcProviders {
  readonly #byId: Map<string, OidcProvider>

  constructor(settings: OidcProviderConfig[], log: FastifyBaseLogger) {
    this.#byId = new Map(settings.map((s) => [s.id, new OidcProvider(s, log)]))
  }

  list(): OidcProvider[] {
    return [...this.#byId.values()]
  }

  get(id: string): OidcProvider | undefined {
    return this.#byId.get(id)
  }

  /** Starts every discovery without waiting: an unreachable issuer must not hold up the start. */
  discoverAll(): void {
    for (const p of this.#byId.values()) p.configuration().catch(() => {}) // logged by configuration()
  }

  async settle(): Promise<void> {
    await Promise.all(this.list().map((p) => p.settle()))
  }
}

/** One line for the log: the error and its causes (openid-client wraps the precise reason). */
export function describeError(err: unknown): string {
  const parts: string[] = []
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) {
    const code = (e as { code?: unknown }).code
    parts.push(typeof code === 'string' ? `${e.message} [${code}]` : e.message)
    if (e.cause instanceof Response) parts.push(`HTTP ${e.cause.status}`) // an answer that was not the expected one
  }
  return parts.join(': ') || String(err)
}

/** True when the error is the network's (refused, reset, timed out), not the provider's answer. */
export function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return true
    if (e instanceof TypeError && e.message === 'fetch failed') return true
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^(ECONN|ENOTFOUND|EAI_|ETIMEDOUT|EHOSTUNREACH|UND_ERR)/.test(code)) return true
  }
  return false
}
