// The configured social login providers (asked once per page load) and what each sign-in error
// code of /sign-in?error=<code> means to the person who just came back from a provider.
import { shallowRef } from 'vue'
import * as auth from '../api/auth.ts'

const providers = shallowRef<auth.Provider[]>([])
let loading: Promise<void> | null = null

const MESSAGES: Record<auth.SignInError, string> = {
  unknown_provider: 'That sign-in provider is not configured here.',
  provider_unavailable: 'The sign-in provider could not be reached. Try again in a moment, or sign in with your password.',
  cancelled: 'Sign-in was cancelled at the provider.',
  provider_error: 'The sign-in provider could not sign you in.',
  invalid_state: 'That sign-in attempt expired or was started in another browser. Please try again.',
  invalid_token: 'The answer from the sign-in provider could not be verified. Please try again.',
  unverified_email: 'Your e-mail address is not verified at the provider, so it cannot be used to sign in to an existing account. Verify it there, or sign in with your password.',
  email_missing: 'The provider did not share an e-mail address, which an account needs.',
  registration_closed: 'There is no account for that identity yet, and registration is closed.',
  inactive: 'This account is inactive.',
  already_linked: 'Your account is already linked to another identity at this provider.',
  server_error: 'Something went wrong on our side. Please try again.',
}

/** The message for a sign-in error code; null when there is none. */
export function signInErrorMessage(code: unknown): string | null {
  if (typeof code !== 'string' || code === '') return null
  return code in MESSAGES ? MESSAGES[code as auth.SignInError] : 'Signing in with the provider failed. Please try again.'
}

export function useSocialLogin() {
  // A failed list only hides the buttons: the password form still works.
  loading ??= auth.providers().then((list) => { providers.value = list }, () => { loading = null })
  return { providers, loginHref: auth.providerLoginHref }
}
