// Service plugin: the registered features (built-in plus FEATURE_MODULES), loaded once, with their
// pg-boss queues and the schedules' tick queue made sure of, so every route can rely on them.
import fp from 'fastify-plugin'
import { ensureQueues, ensureTickQueue, featuresOf, loadFeatures, moduleUrls, type Feature } from '../../worker/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The features this instance serves, in registration order. */
    features: Feature[]
  }
}

export default fp(async (app) => {
  const urls = moduleUrls(app.config.featureModules)
  await loadFeatures(urls)
  const features = featuresOf(urls)
  await ensureQueues(app.boss, features, app.config)
  // A schedule must be able to point at the tick queue even on an API-only instance.
  await ensureTickQueue(app.boss)
  app.decorate('features', features)
}, { name: 'features', dependencies: ['boss'] })
