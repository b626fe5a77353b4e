// OpenAPI document generated from the route schemas, at /api/schema/, and Swagger UI at /api/docs/.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

export default fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      info: { title: 'Conveyor API', version: app.config.version, description: 'Conveyor HTTP API (v1)' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'conveyor_token' },
        },
      },
    },
  })
  // Swagger UI's routes get a CSP of their own, set by the plugin in its scope over security.ts's:
  // its bundle injects <style> elements, so styles may be inline there (scripts still may not).
  // No upgrade-insecure-requests: the docs must load on plain-HTTP development servers too.
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: true,
    transformStaticCSP: (header) => header
      .replace(/\s*upgrade-insecure-requests;?/, '')
      .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
      .replace(/style-src ([^;]*);/, "style-src $1 'unsafe-inline';").replace(/ +/g, ' '),
  })
  app.get('/api/schema/', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
