// 405 for a known path with the wrong method: Fastify alone answers 404 there.
// A mirror router learns every route as it is added and is asked only when Fastify found nothing.
import type { FastifyInstance, HTTPMethods } from 'fastify'
import findMyWay from 'find-my-way'

const noop = () => {}

export function trackRoutes(app: FastifyInstance) {
  const mirror = findMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true })
  app.addHook('onRoute', (route) => {
    const methods = ([] as HTTPMethods[]).concat(route.method)
    for (const m of methods) {
      try {
        mirror.on(m as any, route.url, noop)
      } catch {
        // duplicate registrations (HEAD for GET) are fine
      }
    }
  })
  return {
    /** Methods that would have matched `path`, or [] when the path is unknown. */
    allowedMethods(path: string): string[] {
      const bare = path.split('?')[0]!
      return ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].filter((m) => mirror.find(m as any, bare) !== null)
    },
  }
}
