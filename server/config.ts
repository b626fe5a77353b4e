// The one place that reads the environment: builds and validates Conveyor's configuration.
import { existsSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { parseEnv } from 'node:util'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { FormatRegistry } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { projectRoot } from '../db/source.ts'

if (!FormatRegistry.Has('email')) FormatRegistry.Set('email', (v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v))

export const DEVELOPMENT_SECRET_KEY = 'conveyor-development-secret-key-change-me-in-production'

const Profile = Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')])
const Role = Type.Union([Type.Literal('api'), Type.Literal('worker'), Type.Literal('all')])
const LogLevel = Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)))
const Verification = Type.Union([Type.Literal('none'), Type.Literal('optional'), Type.Literal('mandatory')])
/** smtp: send through SMTP_URL; log: write each message's recipient and subject to the log, send nothing. */
const EmailBackend = Type.Union([Type.Literal('smtp'), Type.Literal('log')])
const Port = Type.Integer({ minimum: 0, maximum: 65535 })
const Seconds = Type.Number({ exclusiveMinimum: 0 })
const Bool = Type.Boolean()
/** A rate limit: "5/5m" is 5 per 5 minutes, "10/m" 10 per minute (units s, m, h, d); "0/m" turns it off. */
const Rate = Type.String({ pattern: '^\\d+/([1-9]\\d*)?[smhd]$' })

/** Every environment variable Conveyor reads, with its type and default. Declared once. */
const EnvSchema = Type.Object({
  NODE_ENV: Type.Optional(Profile),
  PORT: Type.Optional(Port),
  HOST: Type.Optional(Type.String({ minLength: 1 })),
  ROLE: Type.Optional(Role),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  POSTGRES_HOST: Type.Optional(Type.String({ minLength: 1 })),
  POSTGRES_PORT: Type.Optional(Port),
  POSTGRES_USER: Type.Optional(Type.String({ minLength: 1 })),
  POSTGRES_PASSWORD: Type.Optional(Type.String()),
  POSTGRES_DB: Type.Optional(Type.String({ minLength: 1 })),
  DATABASE_POOL_SIZE: Type.Optional(Type.Integer({ minimum: 2, maximum: 200 })),
  DATABASE_WAIT_SECONDS: Type.Optional(Seconds),
  EMBEDDED_POSTGRES_DIR: Type.Optional(Type.String({ minLength: 1 })),
  EMBEDDED_POSTGRES_PORT: Type.Optional(Port),
  SECRET_KEY: Type.Optional(Type.String({ minLength: 1 })),
  ALLOWED_HOSTS: Type.Optional(Type.String({ minLength: 1 })),
  ADMIN_EMAIL: Type.Optional(Type.String({ format: 'email' })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  WORKER_THREADS: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
  WORKER_MEMORY_LIMIT_MB: Type.Optional(Type.Integer({ minimum: 16, maximum: 65536 })),
  FEATURE_MODULES: Type.Optional(Type.String({ minLength: 1 })),
  JOB_HEARTBEAT_SECONDS: Type.Optional(Type.Integer({ minimum: 10, maximum: 3600 })),
  JOB_CANCEL_GRACE_SECONDS: Type.Optional(Seconds),
  JOB_AHEAD_MS: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  EMAIL_BACKEND: Type.Optional(EmailBackend),
  DEFAULT_FROM_EMAIL: Type.Optional(Type.String({ minLength: 3 })),
  MEDIA_ROOT: Type.Optional(Type.String({ minLength: 1 })),
  LOG_LEVEL: Type.Optional(LogLevel),
  BODY_LIMIT_MB: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  UPLOAD_LIMIT_MB: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  SHUTDOWN_GRACE_SECONDS: Type.Optional(Seconds),
  TOKEN_TTL_HOURS: Type.Optional(Seconds),
  ACCOUNT_EMAIL_VERIFICATION: Type.Optional(Verification),
  ALLOW_REGISTRATION: Type.Optional(Bool),
  FRONTEND_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  AUTH_CACHE_SECONDS: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
  PASSWORD_RESET_TIMEOUT_HOURS: Type.Optional(Seconds),
  EMAIL_VERIFICATION_EXPIRE_HOURS: Type.Optional(Seconds),
  THROTTLE_LOGIN_FAILURES_PER_EMAIL: Type.Optional(Rate),
  THROTTLE_LOGIN_FAILURES_PER_IP: Type.Optional(Rate),
  THROTTLE_REGISTRATION_PER_IP: Type.Optional(Rate),
  THROTTLE_EMAIL_REQUESTS_PER_IP: Type.Optional(Rate),
  THROTTLE_EMAIL_REQUESTS_PER_EMAIL: Type.Optional(Rate),
  SCHEDULER_INTERVAL_SECONDS: Type.Optional(Type.Integer({ minimum: 1, maximum: 45 })),
  RETENTION_DAYS: Type.Optional(Seconds),
  TRUST_PROXY: Type.Optional(Bool),
  CORS_ALLOWED_ORIGINS: Type.Optional(Type.String({ pattern: '^\\s*https?://[^\\s,/]+/?\\s*(,\\s*https?://[^\\s,/]+/?\\s*)*$' })),
  DASHBOARD_USER: Type.Optional(Type.String({ minLength: 1 })),
  DASHBOARD_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  DASHBOARD_PORT: Type.Optional(Port),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  COMMIT_SHA: Type.Optional(Type.String()),
  // Social login: the provider ids; each id's OIDC_<ID>_* variables are read by readOidcProviders.
  OIDC_PROVIDERS: Type.Optional(Type.String()),
})
type Env = Static<typeof EnvSchema>

export type Profile = Static<typeof Profile>
export type Role = Static<typeof Role>
export interface Rate { limit: number; seconds: number }

/** One OpenID Connect provider of social login (OIDC_PROVIDERS and its OIDC_<ID>_* variables). */
export interface OidcProviderConfig {
  /** As in the URLs: /api/v1/auth/oidc/<id>/login/. */
  id: string
  /** What the buttons say: "Continue with <name>". */
  name: string
  /** Discovery starts from <issuer>/.well-known/openid-configuration. */
  issuer: string
  clientId: string
  clientSecret: string
}

export interface Config {
  env: Profile
  role: Role
  version: string
  commit: string
  host: string
  port: number
  /** null: development without a configured database, so an embedded PostgreSQL is started. */
  databaseUrl: string | null
  databasePoolSize: number
  databaseWaitSeconds: number
  embeddedPostgres: { dir: string; port: number }
  secretKey: string
  allowedHosts: string[]
  admin: { email: string; password: string } | null
  workerThreads: number
  /** Old-generation heap limit of each worker thread: a thread past it fails its own job only. */
  workerMemoryLimitMb: number
  /** Extra feature files (absolute paths) registered next to the built-in ones. */
  featureModules: string[]
  /** A running job's pg-boss heartbeat; a job silent for this long is presumed lost and recovered. */
  jobHeartbeatSeconds: number
  /** How long a cancelled job's thread may take to stop on its own before it is terminated. */
  jobCancelGraceSeconds: number
  /** About how long a short job claimed ahead of busy threads may wait for one (0: claim only for free threads). */
  jobAheadMs: number
  smtpUrl: string | null
  /** smtp (SMTP_URL set) or log; production needs SMTP_URL unless EMAIL_BACKEND=log is chosen. */
  emailBackend: Static<typeof EmailBackend>
  defaultFromEmail: string
  mediaRoot: string
  logLevel: Static<typeof LogLevel>
  bodyLimit: number
  uploadLimit: number
  shutdownGraceSeconds: number
  tokenTtlSeconds: number
  emailVerification: Static<typeof Verification>
  allowRegistration: boolean
  /** Base of every link in e-mails (no trailing slash): FRONTEND_URL, else this server's HOST:PORT outside production. */
  frontendUrl: string
  /** FRONTEND_URL was given (else frontendUrl is this server's own HOST:PORT). */
  frontendUrlConfigured: boolean
  /** How often pg-boss looks for due cron ticks (its cronMonitorIntervalSeconds). */
  schedulerIntervalSeconds: number
  /** Requests, results and files older than this are deleted by the retention schedule. */
  retentionDays: number
  /** How long an instance may answer a key from its session cache (0: always ask the database). */
  authCacheSeconds: number
  passwordResetTimeoutSeconds: number
  emailVerificationExpireSeconds: number
  throttle: {
    loginFailuresPerEmail: Rate
    loginFailuresPerIp: Rate
    registrationPerIp: Rate
    emailRequestsPerIp: Rate
    emailRequestsPerEmail: Rate
  }
  /**
   * Behind a reverse proxy (TLS terminated there): trust its X-Forwarded-For/-Proto/-Host, so the
   * client IP (login and e-mail throttling, logs), the scheme and host (pagination links, e-mail
   * links without FRONTEND_URL) are the client's, not the proxy's. Off: a client could forge them.
   */
  trustProxy: boolean
  /** Social login providers, in the order of OIDC_PROVIDERS (empty: none). */
  oidcProviders: OidcProviderConfig[]
  /** Origins (scheme://host[:port]) allowed to call /api from another origin; empty: same-origin only. */
  corsAllowedOrigins: string[]
  /** The pg-boss dashboard (`npm run dashboard`): basic auth; no password, no start. */
  dashboard: { user: string; password: string | null; port: number }
  /** A bearer token for Prometheus on GET /metrics (staff keys work too); null: staff keys only. */
  metricsToken: string | null
  /** Project root: relative paths in the environment are resolved against it. */
  root: string
}

/** Thrown when the environment is invalid; `problems` holds one line per bad variable. */
export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export { projectRoot }

/** Reads `.env` (if present) under the real environment: a variable set in the environment wins. */
export function readEnv(root = projectRoot, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const file = path.join(root, '.env')
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {}
  return { ...fromFile, ...env }
}

/** Converts the strings of the environment to the schema's types, without guessing beyond it. */
function convert(name: string, raw: string, schema: TSchema): unknown {
  const props = EnvSchema.properties as Record<string, TSchema>
  const type = (props[name] ?? schema).type
  if (type === 'integer' || type === 'number') return raw.trim() === '' ? raw : Number(raw)
  if (type === 'boolean') {
    const v = raw.trim().toLowerCase()
    if (['1', 'true', 'yes', 'on'].includes(v)) return true
    if (['0', 'false', 'no', 'off'].includes(v)) return false
    return raw
  }
  return raw
}

function describe(schema: TSchema): string {
  if (schema.anyOf) return `one of ${schema.anyOf.map((s: TSchema) => s.const).join(', ')}`
  if (schema.type === 'integer') {
    const range = schema.minimum !== undefined ? ` between ${schema.minimum} and ${schema.maximum}` : ''
    return `an integer${range}`
  }
  if (schema.type === 'number') return 'a positive number'
  if (schema.type === 'boolean') return 'true or false'
  if (schema.format === 'email') return 'an e-mail address'
  if (schema.pattern) return `a value matching ${schema.pattern}`
  return 'a non-empty string'
}

/** Builds the configuration from an environment; throws ConfigError naming every problem. */
export function loadConfig(rawEnv: Record<string, string | undefined> = readEnv(), root = projectRoot): Config {
  const problems: string[] = []
  const env: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(EnvSchema.properties as Record<string, TSchema>)) {
    const raw = rawEnv[name]
    if (raw === undefined || raw === '') continue
    const value = convert(name, raw, schema)
    if (!Value.Check(schema, value)) problems.push(`${name}: must be ${describe(schema)} (got ${JSON.stringify(raw)})`)
    else env[name] = value
  }
  const e = env as Env
  const profile = e.NODE_ENV ?? 'development'
  const production = profile === 'production'

  let databaseUrl = e.DATABASE_URL ?? null
  if (!databaseUrl && e.POSTGRES_HOST) {
    const user = encodeURIComponent(e.POSTGRES_USER ?? 'postgres')
    const password = e.POSTGRES_PASSWORD ? `:${encodeURIComponent(e.POSTGRES_PASSWORD)}` : ''
    const db = encodeURIComponent(e.POSTGRES_DB ?? 'conveyor')
    databaseUrl = `postgres://${user}${password}@${e.POSTGRES_HOST}:${e.POSTGRES_PORT ?? 5432}/${db}`
  }
  if (!databaseUrl && profile !== 'development') {
    problems.push(`DATABASE_URL: required in ${profile} (or POSTGRES_HOST with POSTGRES_PORT/USER/PASSWORD/DB); the embedded PostgreSQL is for development only`)
  }

  const secretKey = e.SECRET_KEY ?? DEVELOPMENT_SECRET_KEY
  if (production) {
    if (!e.SECRET_KEY) problems.push('SECRET_KEY: required in production')
    else if (secretKey === DEVELOPMENT_SECRET_KEY) problems.push('SECRET_KEY: the development default is refused in production')
    else if (secretKey.length < 32) problems.push('SECRET_KEY: must be at least 32 characters in production')
    if (!e.ALLOWED_HOSTS) problems.push('ALLOWED_HOSTS: required in production (comma-separated host names)')
    else if (e.ALLOWED_HOSTS.split(',').some((h) => h.trim() === '*')) {
      problems.push('ALLOWED_HOSTS: * is refused in production (a forged Host header must not reach the app): list the host names')
    }
    // Links in e-mails (password reset, verification) must never come from a request's Host header.
    if (!e.FRONTEND_URL) problems.push('FRONTEND_URL: required in production (the public URL of the web client, the base of links in e-mails)')
    if (!e.SMTP_URL && e.EMAIL_BACKEND !== 'log') {
      problems.push('SMTP_URL: required in production to send e-mail (or set EMAIL_BACKEND=log to only log each message\'s recipient and subject)')
    }
  }
  if (e.EMAIL_BACKEND === 'smtp' && !e.SMTP_URL) problems.push('SMTP_URL: required when EMAIL_BACKEND=smtp')
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined) && !problems.some((p) => p.startsWith('ADMIN_'))) {
    problems.push(`${e.ADMIN_EMAIL ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL'}: required when ${e.ADMIN_EMAIL ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD'} is set`)
  }
  const oidcProviders = readOidcProviders(e.OIDC_PROVIDERS, rawEnv, production, problems)
  if (production && (e.OIDC_PROVIDERS ?? '').trim() !== '' && !e.FRONTEND_URL) {
    problems.push('FRONTEND_URL: required in production when OIDC_PROVIDERS is set (the callback URL registered at each provider is built from it)')
  }
  if (problems.length > 0) throw new ConfigError(problems)

  const resolve = (p: string) => path.resolve(root, p)
  return {
    env: profile,
    role: e.ROLE ?? 'all',
    version: readVersion(root),
    commit: e.COMMIT_SHA ?? 'unknown',
    host: e.HOST ?? (production ? '0.0.0.0' : '127.0.0.1'),
    port: e.PORT ?? 8000,
    databaseUrl,
    databasePoolSize: e.DATABASE_POOL_SIZE ?? 20,
    databaseWaitSeconds: e.DATABASE_WAIT_SECONDS ?? 60,
    embeddedPostgres: { dir: resolve(e.EMBEDDED_POSTGRES_DIR ?? '.data/postgres'), port: e.EMBEDDED_POSTGRES_PORT ?? 54329 },
    secretKey,
    allowedHosts: (e.ALLOWED_HOSTS ?? '*').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    admin: e.ADMIN_EMAIL && e.ADMIN_PASSWORD ? { email: e.ADMIN_EMAIL, password: e.ADMIN_PASSWORD } : null,
    workerThreads: e.WORKER_THREADS ?? availableParallelism(),
    workerMemoryLimitMb: e.WORKER_MEMORY_LIMIT_MB ?? 512,
    featureModules: (e.FEATURE_MODULES ?? '').split(',').map((p) => p.trim()).filter(Boolean).map(resolve),
    jobHeartbeatSeconds: e.JOB_HEARTBEAT_SECONDS ?? 30,
    jobCancelGraceSeconds: e.JOB_CANCEL_GRACE_SECONDS ?? 5,
    jobAheadMs: e.JOB_AHEAD_MS ?? 10,
    smtpUrl: e.SMTP_URL ?? null,
    emailBackend: e.EMAIL_BACKEND ?? (e.SMTP_URL ? 'smtp' : 'log'),
    defaultFromEmail: e.DEFAULT_FROM_EMAIL ?? 'Conveyor <noreply@localhost>',
    mediaRoot: resolve(e.MEDIA_ROOT ?? '.data/media'),
    logLevel: e.LOG_LEVEL ?? (profile === 'test' ? 'silent' : 'info'),
    bodyLimit: Math.round((e.BODY_LIMIT_MB ?? 10) * 1024 * 1024),
    uploadLimit: Math.round((e.UPLOAD_LIMIT_MB ?? 100) * 1024 * 1024),
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS ?? 25,
    tokenTtlSeconds: Math.round((e.TOKEN_TTL_HOURS ?? 24 * 14) * 3600),
    emailVerification: e.ACCOUNT_EMAIL_VERIFICATION ?? 'optional',
    allowRegistration: e.ALLOW_REGISTRATION ?? true,
    frontendUrl: (e.FRONTEND_URL ?? localUrl(e.HOST ?? '127.0.0.1', e.PORT ?? 8000)).replace(/\/+$/, ''),
    frontendUrlConfigured: e.FRONTEND_URL !== undefined,
    schedulerIntervalSeconds: e.SCHEDULER_INTERVAL_SECONDS ?? 30,
    retentionDays: e.RETENTION_DAYS ?? 30,
    authCacheSeconds: e.AUTH_CACHE_SECONDS ?? 30,
    passwordResetTimeoutSeconds: Math.round((e.PASSWORD_RESET_TIMEOUT_HOURS ?? 72) * 3600),
    emailVerificationExpireSeconds: Math.round((e.EMAIL_VERIFICATION_EXPIRE_HOURS ?? 72) * 3600),
    throttle: {
      loginFailuresPerEmail: parseRate(e.THROTTLE_LOGIN_FAILURES_PER_EMAIL ?? '5/5m'),
      loginFailuresPerIp: parseRate(e.THROTTLE_LOGIN_FAILURES_PER_IP ?? '10/m'),
      registrationPerIp: parseRate(e.THROTTLE_REGISTRATION_PER_IP ?? '20/m'),
      emailRequestsPerIp: parseRate(e.THROTTLE_EMAIL_REQUESTS_PER_IP ?? '20/m'),
      emailRequestsPerEmail: parseRate(e.THROTTLE_EMAIL_REQUESTS_PER_EMAIL ?? '5/10m'),
    },
    trustProxy: e.TRUST_PROXY ?? false,
    oidcProviders,
    corsAllowedOrigins: (e.CORS_ALLOWED_ORIGINS ?? '').split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean),
    dashboard: { user: e.DASHBOARD_USER ?? 'admin', password: e.DASHBOARD_PASSWORD ?? null, port: e.DASHBOARD_PORT ?? 5555 },
    metricsToken: e.METRICS_TOKEN ?? null,
    root,
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * The providers named by OIDC_PROVIDERS, from their per-id variables (OIDC_<ID>_ISSUER, _CLIENT_ID,
 * _CLIENT_SECRET, optional _NAME; <ID> is the id upper-cased, '-' as '_'). Pushes one problem per bad
 * or missing variable. Plain http issuers are refused in production unless on loopback.
 */
function readOidcProviders(list: string | undefined, rawEnv: Record<string, string | undefined>, production: boolean, problems: string[]): OidcProviderConfig[] {
  const ids = [...new Set((list ?? '').split(',').map((id) => id.trim()).filter(Boolean))]
  const providers: OidcProviderConfig[] = []
  for (const id of ids) {
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(id)) {
      problems.push(`OIDC_PROVIDERS: ${JSON.stringify(id)} is not a provider id (lower-case letters, digits and single dashes)`)
      continue
    }
    const prefix = `OIDC_${id.toUpperCase().replaceAll('-', '_')}_`
    const read = (suffix: string): string | undefined => {
      const value = rawEnv[prefix + suffix]?.trim()
      return value === undefined || value === '' ? undefined : value
    }
    const before = problems.length
    const issuer = read('ISSUER')
    const clientId = read('CLIENT_ID')
    const clientSecret = read('CLIENT_SECRET')
    if (issuer === undefined) problems.push(`${prefix}ISSUER: required because OIDC_PROVIDERS lists "${id}" (the provider's issuer URL)`)
    else {
      const url = URL.parse(issuer)
      if (!url || !['https:', 'http:'].includes(url.protocol) || url.search || url.hash) {
        problems.push(`${prefix}ISSUER: must be an http(s) URL without query or fragment (got ${JSON.stringify(issuer)})`)
      } else if (production && url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
        problems.push(`${prefix}ISSUER: must be https in production (got ${JSON.stringify(issuer)})`)
      }
    }
    if (clientId === undefined) problems.push(`${prefix}CLIENT_ID: required because OIDC_PROVIDERS lists "${id}"`)
    if (clientSecret === undefined) problems.push(`${prefix}CLIENT_SECRET: required because OIDC_PROVIDERS lists "${id}"`)
    if (problems.length > before) continue
    const name = read('NAME') ?? id.charAt(0).toUpperCase() + id.slice(1)
    providers.push({ id, name, issuer: issuer!, clientId: clientId!, clientSecret: clientSecret! })
  }
  return providers
}

/** This server's own address, for links outside production: a wildcard bind address means this machine. */
function localUrl(host: string, port: number): string {
  const name = ['0.0.0.0', '::', '[::]'].includes(host) ? 'localhost' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `http://${name}:${port}`
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const

function parseRate(rate: string): Rate {
  const [limit, period] = rate.split('/') as [string, string]
  const unit = period.slice(-1) as keyof typeof UNIT_SECONDS
  return { limit: Number(limit), seconds: Number(period.slice(0, -1) || 1) * UNIT_SECONDS[unit] }
}

function readVersion(root: string): string {
  try {
    return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version as string
  } catch {
    return '0.0.0'
  }
}
