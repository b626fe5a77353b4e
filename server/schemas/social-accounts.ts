// Shapes of the social login API: the providers list and the caller's linked accounts.
import { Type, type Static } from '@sinclair/typebox'

export const ProviderId = Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 64 })

export const ProviderSchema = Type.Object({
  id: Type.String(),
  name: Type.String({ description: 'What a button says: "Continue with <name>"' }),
  login_url: Type.String({ description: 'Send the browser here (a top-level navigation), optionally with ?next=/path' }),
})
export type Provider = Static<typeof ProviderSchema>
export const ProviderListSchema = Type.Array(ProviderSchema)

export const SocialAccountSchema = Type.Object({
  id: Type.Integer(),
  provider: Type.String({ description: 'The provider id, as in OIDC_PROVIDERS' }),
  name: Type.String({ description: 'The provider’s display name (the id when it is no longer configured)' }),
  uid: Type.String({ description: 'The subject (`sub`) at the provider' }),
  email: Type.Union([Type.String(), Type.Null()], { description: 'The e-mail the provider gave at the last sign-in' }),
  date_joined: Type.String({ format: 'date-time', description: 'When it was linked' }),
  last_login: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})
export type SocialAccountResponse = Static<typeof SocialAccountSchema>
export const SocialAccountListSchema = Type.Array(SocialAccountSchema)

export const LoginQuery = Type.Object({ next: Type.Optional(Type.String({ maxLength: 2000 })) })
/** The plain unlink path's body, or its query: which provider. */
export const UnlinkSelector = Type.Object({ provider: Type.Optional(ProviderId) })

/** The `error` codes of /sign-in?error=<code> after a failed social sign-in (the SPA explains each). */
export type SignInError = 'unknown_provider' | 'provider_unavailable' | 'cancelled' | 'provider_error' | 'invalid_state'
  | 'invalid_token' | 'unverified_email' | 'email_missing' | 'registration_closed' | 'inactive' | 'already_linked' | 'server_error'
