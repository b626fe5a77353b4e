// The authentication API under /api/v1/auth/ (dj-rest-auth's contract), plus /api/v1/users/me/.
import fp from 'fastify-plugin'
import oidcRoutes from '../oidc/plugin.ts'
import loginRoutes from './login.ts'
import passwordRoutes from './password.ts'
import registrationRoutes from './registration.ts'
import userRoutes from './user.ts'

export default fp(async (app) => {
  await app.register(registrationRoutes)
  await app.register(loginRoutes)
  await app.register(userRoutes)
  await app.register(passwordRoutes)
  await app.register(oidcRoutes)
}, { name: 'accounts-routes', dependencies: ['accounts-auth', 'mailer'] })
