// Host allow-list (Django's ALLOWED_HOSTS), the security headers every response carries
// (helmet), and CORS on /api for the configured origins only (@fastify/cors).
import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import cors from '@fastify/cors'
import { HttpError } from './errors.ts'
import { runtimeConfigScript } from '../spa.ts'

/** Probes answer whatever the Host header says: orchestrators and HEALTHCHECKs probe 127.0.0.1 or a pod IP. */
export const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz'])

export const isHealthProbe = (url: string): boolean => HEALTH_PATHS.has(url.split('?')[0]!.replace(/\/+$/, ''))

export default fp(async (app) => {
  const { allowedHosts, env, corsAllowedOrigins } = app.config
  const production = env === 'production'
  const anyHost = allowedHosts.includes('*')
  const allowed = (host: string) =>
    allowedHosts.some((h) => h === host || (h.startsWith('.') && (host.endsWith(h) || host === h.slice(1))))
  app.addHook('onRequest', (request, _reply, done) => {
    // The probe paths are looked at only for a host that is not allowed (the rare case).
    if (anyHost || allowed((request.hostname ?? '').toLowerCase()) || isHealthProbe(request.url)) return done()
    done(new HttpError(400, { detail: 'Invalid host header.' }))
  })

  // The SPA's only inline script is the runtime settings spa.ts injects: allowed by its hash.
  const runtimeHash = `'sha256-${createHash('sha256').update(runtimeConfigScript(app.config)).digest('base64')}'`
  const headers = helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", runtimeHash],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // Browsers keep HSTS for a year: only in production, where TLS is in front (see TRUST_PROXY).
    strictTransportSecurity: production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    // Downloads and the API are fetched by the SPA itself; no cross-origin embedding is needed.
    crossOriginResourcePolicy: { policy: 'same-origin' },
  })
  // Set on the raw response, as helmet's middleware does, so that a hijacked reply (SSE) has them too.
  app.addHook('onRequest', (request, reply, done) => {
    const res = reply.raw
    for (const [name, value] of headers) res.setHeader(name, value)
    res.removeHeader('x-powered-by')
    done()
  })

  // Cross-origin calls to the API (a client on another origin, with a Bearer key) only from the
  // configured origins; without CORS_ALLOWED_ORIGINS no CORS header is ever sent.
  if (corsAllowedOrigins.length > 0) {
    await app.register(cors, {
      delegator: (request, callback) => {
        if (!request.url?.startsWith('/api/')) return callback(null, { origin: false })
        callback(null, {
          origin: corsAllowedOrigins,
          methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
          allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Requested-With', 'X-Request-Id'],
          exposedHeaders: ['Location', 'X-Request-Id', 'Content-Disposition'],
          credentials: false,
          maxAge: 600,
        })
      },
    })
  }
}, { name: 'security' })

/**
 * The headers helmet's middleware sets for these options, computed once. They do not depend on the
 * request (no CSP nonces here), and @fastify/helmet rebuilt the middleware, and so re-parsed the CSP
 * directives, for every request: about 5 % of an authenticated GET's CPU (bench/README.md).
 */
function helmetHeaders(options: Readonly<HelmetOptions>): [string, string][] {
  const headers = new Map<string, string>()
  const res = {
    setHeader(name: string, value: string) { headers.set(name.toLowerCase(), String(value)) },
    removeHeader(name: string) { headers.delete(name.toLowerCase()) },
  }
  helmet(options)({} as never, res as never, (err?: unknown) => { if (err) throw err })
  return [...headers]
}
