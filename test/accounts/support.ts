// Shared by the accounts tests: an app wired to an SMTP sink, and short-hands for the auth API.
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { SessionCache } from '../../server/accounts/session-cache.ts'
import type { AuthChange } from '../../server/accounts/sessions.ts'
import { buildApp } from '../../server/app.ts'
import { createLogger } from '../../server/logger.ts'
import { openServices } from '../../server/services.ts'
import { api, build, testConfig, type Built } from '../helper.ts'
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts'

export const AUTH = '/api/v1/auth'
export const GOOD_PASSWORD = 'correct horse battery staple'

/** The app with a real SMTP sink as its mail server (closed after the app, so no message is lost). */
export async function buildWithMail(t: Test, env: Record<string, string> = {}): Promise<Built & { sink: SmtpSink }> {
  const sink = await startSmtpSink()
  t.teardown(() => sink.close()) // teardowns run last-in first-out: the app closes before the sink
  const built = await build(t, { env: { SMTP_URL: sink.url, ...env } })
  return { ...built, sink }
}

export function register(app: FastifyInstance, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return api(app, { method: 'POST', url: `${AUTH}/registration/`, payload: body, headers })
}

export function login(app: FastifyInstance, email: string, password: string, headers: Record<string, string> = {}) {
  return api(app, { method: 'POST', url: `${AUTH}/login/`, payload: { email, password }, headers })
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

export function me(app: FastifyInstance, headers: Record<string, string>) {
  return api(app, { method: 'GET', url: `${AUTH}/user/`, headers })
}

/** The first link in an e-mail's text that goes to `path` (e.g. "/verify-email/"). */
export function linkIn(text: string, path: string): string {
  const m = new RegExp(`https?://\\S*${path}\\S+`).exec(text)
  if (!m) throw new Error(`no ${path} link in:\n${text}`)
  return m[0]
}

/** Another instance of the app on the same database as `built`, as a second server would be. */
export async function secondInstance(t: Test, built: Built, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = testConfig(built.url, env)
  const services = await openServices(config, createLogger(config), built.url)
  const app = await buildApp(services)
  await app.ready()
  t.teardown(async () => {
    await app.close()
    await services.close()
  })
  return app
}

/**
 * Resolves when `cache` has applied an announced change that `matches` (register it before the
 * action that announces, so the notification cannot slip past).
 */
export function announced(cache: SessionCache, matches: (change: AuthChange) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const seen = (change: AuthChange) => {
      if (!matches(change)) return
      cache.off('forget', seen)
      resolve()
    }
    cache.on('forget', seen)
  })
}

/** Resolves when the cache's listener state becomes `live` (at once if it already is). */
export function liveness(cache: SessionCache, live: boolean): Promise<void> {
  if (cache.live === live) return Promise.resolve()
  return new Promise((resolve) => {
    const seen = (now: boolean) => {
      if (now !== live) return
      cache.off('live', seen)
      resolve()
    }
    cache.on('live', seen)
  })
}
