// The authentication endpoints the SPA uses (/api/v1/auth/). Bodies and the user shape are the
// server's TypeBox schemas, imported as types only: the contract has one source.
import type { Static } from '@sinclair/typebox'
import type {
  EmailBody, LoginBody, PasswordResetConfirmBody, RegisterBody, UserResponse,
} from '../../../server/schemas/users.ts'
import type { Provider, SignInError, SocialAccountResponse } from '../../../server/schemas/social-accounts.ts'
import { getJson, postJson, request } from './http.ts'

export type User = UserResponse
export type Credentials = Static<typeof LoginBody>
export type Registration = Static<typeof RegisterBody>
export type PasswordResetConfirm = Static<typeof PasswordResetConfirmBody>
export type { Provider, SignInError }
export type SocialAccount = SocialAccountResponse
type Detail = { detail: string }

// The responses also carry the API key: the SPA ignores it, the HttpOnly cookie does the work.
export const currentUser = () => getJson<User>('auth/user/')
export const login = (body: Credentials) => postJson<{ user: User }>('auth/login/', body)
export const logout = () => postJson<Detail>('auth/logout/')
/** `detail` instead of a session when the server requires e-mail verification first. */
export const register = (body: Registration) => postJson<{ key?: string; detail?: string }>('auth/registration/', body)
export const verifyEmail = (key: string) => postJson<Detail>('auth/registration/verify-email/', { key })
export const resendVerification = (body: Static<typeof EmailBody>) => postJson<Detail>('auth/registration/resend-email/', body)
export const requestPasswordReset = (body: Static<typeof EmailBody>) => postJson<Detail>('auth/password/reset/', body)
export const confirmPasswordReset = (body: PasswordResetConfirm) => postJson<Detail>('auth/password/reset/confirm/', body)

// Social login (OpenID Connect). Signing in is a top-level navigation to the provider, not a fetch.
export const providers = () => getJson<Provider[]>('auth/providers/')
/** Where "Continue with …" goes: the server's login URL, coming back to `next` afterwards. */
export const providerLoginHref = (provider: Provider, next = '/') =>
  next === '/' ? provider.login_url : `${provider.login_url}?next=${encodeURIComponent(next)}`
export const socialAccounts = () => getJson<SocialAccount[]>('auth/social-accounts/')
export const unlinkSocialAccount = (provider: string) =>
  request<void>('DELETE', `auth/social-accounts/${encodeURIComponent(provider)}/`)
