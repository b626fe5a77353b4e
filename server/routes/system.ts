// System endpoints: version (liveness and readiness are in health.ts, shared with worker-only instances).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

export const VersionInfoSchema = Type.Object({
  version: Type.String(),
  environment: Type.String(),
  commit: Type.String(),
})

const systemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app
  app.get('/api/v1/version-info/', {
    schema: { tags: ['system'], summary: 'Version of this deployment', response: { 200: VersionInfoSchema } },
  }, async () => ({ version: config.version, environment: config.env, commit: config.commit }))
}

export default systemRoutes
