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
  await app.register(swaggerUi, { routePrefix: '/api/docs' })
  app.get('/api/schema/', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
