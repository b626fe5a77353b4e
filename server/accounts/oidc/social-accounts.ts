// Linked provider identities and the rules that turn a verified ID token into one of our users:
// found by (provider, subject); else by an e-mail the provider says it verified (then linked); else
// created when registration is open. An unverified e-mail never reaches an existing account.
import type { Executor } from '../../../db/index.ts'
import type { SocialAccount } from '../../../db/types.ts'
import type { Config } from '../../config.ts'
import { makeUnusablePassword } from '../passwords.ts'
import { revokeUserSessions } from '../sessions.ts'
import { createUser, findUserByEmail } from '../users.ts'
import type { SignInError } from '../../schemas/social-accounts.ts'

/** Who the provider says signed in (from the checked ID token, completed by UserInfo). */
export interface Identity {
  provider: string
  subject: string
  email: string | null
  emailVerified: boolean
  name: string
}

/** Why the account rules refused a sign-in: the `error` of the SPA's /sign-in?error=<code>. */
export type RefusalCode = Extract<SignInError, 'unverified_email' | 'email_missing' | 'registration_closed' | 'inactive' | 'already_linked'>

export type Resolution =
  | { ok: true; userId: number; created: boolean; linked: boolean; revokedSessions: boolean }
  | { ok: false; code: RefusalCode }

const refuse = (code: RefusalCode): Resolution => ({ ok: false, code })

/**
 * Finds, links or creates the user for an identity, inside `trx` (a refusal writes nothing, and the
 * caller rolls back on any error). Linking by e-mail to an account whose own address was never
 * verified also takes away its password and sessions: whoever made that account never proved the
 * address, and must not keep a way into what is now the address owner's account.
 */
export async function resolveUser(trx: Executor, identity: Identity, config: Pick<Config, 'allowRegistration' | 'emailVerification'>): Promise<Resolution> {
  const mandatory = config.emailVerification === 'mandatory'
  const linked = await trx.selectFrom('social_accounts as s').innerJoin('users as u', 'u.id', 's.user_id')
    .select(['s.id', 'u.id as user_id', 'u.is_active', 'u.email_verified'])
    .where('s.provider', '=', identity.provider).where('s.subject', '=', identity.subject)
    .executeTakeFirst()
  if (linked) {
    if (!linked.is_active) return refuse('inactive')
    if (mandatory && !linked.email_verified) return refuse('unverified_email')
    await trx.updateTable('social_accounts').set({ last_login: new Date(), email: identity.email })
      .where('id', '=', linked.id).execute()
    return { ok: true, userId: linked.user_id, created: false, linked: false, revokedSessions: false }
  }

  if (!identity.email) return refuse('email_missing')
  const existing = await findUserByEmail(trx, identity.email)
  if (existing) {
    if (!identity.emailVerified) return refuse('unverified_email') // account takeover otherwise
    if (!existing.is_active) return refuse('inactive')
    const other = await trx.selectFrom('social_accounts').select('id')
      .where('user_id', '=', existing.id).where('provider', '=', identity.provider).executeTakeFirst()
    if (other) return refuse('already_linked') // another identity at this provider holds the link
    await insertLink(trx, existing.id, identity)
    if (existing.email_verified) return { ok: true, userId: existing.id, created: false, linked: true, revokedSessions: false }
    await trx.updateTable('users').set({ email_verified: true, password: makeUnusablePassword() }).where('id', '=', existing.id).execute()
    await revokeUserSessions(trx, existing.id)
    return { ok: true, userId: existing.id, created: false, linked: true, revokedSessions: true }
  }

  if (!config.allowRegistration) return refuse('registration_closed')
  if (mandatory && !identity.emailVerified) return refuse('unverified_email')
  const user = await createUser(trx, { email: identity.email, password: null, name: identity.name.slice(0, 255), emailVerified: identity.emailVerified })
  await insertLink(trx, user.id, identity)
  return { ok: true, userId: user.id, created: true, linked: true, revokedSessions: false }
}

async function insertLink(trx: Executor, userId: number, identity: Identity): Promise<void> {
  await trx.insertInto('social_accounts').values({
    user_id: userId, provider: identity.provider, subject: identity.subject, email: identity.email, last_login: new Date(),
  }).execute()
}

export function listSocialAccounts(db: Executor, userId: number): Promise<SocialAccount[]> {
  return db.selectFrom('social_accounts').selectAll().where('user_id', '=', userId).orderBy('date_joined').orderBy('id').execute()
}

export async function deleteSocialAccount(db: Executor, userId: number, provider: string): Promise<boolean> {
  const r = await db.deleteFrom('social_accounts').where('user_id', '=', userId).where('provider', '=', provider).executeTakeFirst()
  return r.numDeletedRows > 0n
}
