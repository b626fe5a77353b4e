// Social login with OpenID Connect (allauth's /accounts/<provider>/ place). The providers come from
// configuration only and are discovered from their issuers when the app is ready (a bad one is a log
// line, never a failed start); then the sign-in flow and the linked accounts' routes.
import fp from 'fastify-plugin'
import { OidcProviders } from './providers.ts'
import signInRoutes from './sign-in-routes.ts'
import linkedAccountRoutes from './linked-accounts-routes.ts'

export default fp(async (app) => {
  const providers = new OidcProviders(app.config.oidcProviders, app.log)
  app.addHook('onReady', async () => providers.discoverAll())
  app.addHook('onClose', async () => providers.settle())
  await app.register(signInRoutes, { providers })
  await app.register(linkedAccountRoutes, { providers })
}, { name: 'accounts-oidc', dependencies: ['accounts-auth'] })
