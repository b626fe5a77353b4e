// Host allow-list (Django's ALLOWED_HOSTS) and the security headers every response carries.
import fp from 'fastify-plugin'
import { HttpError } from './errors.ts'

export default fp(async (app) => {
  const { allowedHosts, env } = app.config
  const anyHost = allowedHosts.includes('*')
  app.addHook('onRequest', async (request) => {
    if (anyHost) return
    const host = (request.hostname ?? '').toLowerCase()
    const ok = allowedHosts.some((h) => h === host || (h.startsWith('.') && (host.endsWith(h) || host === h.slice(1))))
    if (!ok) throw new HttpError(400, { detail: 'Invalid host header.' })
  })
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff')
    reply.header('x-frame-options', 'DENY')
    reply.header('referrer-policy', 'same-origin')
    if (env === 'production') reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains')
  })
}, { name: 'security' })
