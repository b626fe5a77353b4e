// The production Content-Security-Policy does not break the SPA or Swagger UI: a real Chromium
// against a production-profile server signs in, runs a job, views its results and opens the API
// docs, and the page reports no CSP violation and no console error on the way.
import t from 'tap'
import type { Page } from 'playwright-core'
import { userWithToken } from '../helper.ts'
import { productionEnv } from '../deploy/support.ts'
import { hasChromium, NO_CHROMIUM, launchBrowser, newPage, snap, startServer } from './support.ts'

/** What these tests read of the page's globals (the tests are type-checked without the DOM library). */
interface PageGlobals {
  __cspViolations: string[]
  __CONVEYOR__?: { environment: string }
  document: { addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string; sourceFile: string; lineNumber: number }) => void): void }
}

/** Answers a page may get on the way: the session probe before signing in, Chrome's favicon request. */
const EXPECTED_FAILURES = [/^401 \/api\/v1\/auth\/user\/$/, /^404 \/favicon\.ico$/]

/**
 * Collects what would show a broken page: CSP violations (the DOM event), console errors, and
 * failed responses other than the expected ones (Chrome logs each failed load as a console error
 * without its URL, so those are taken from the responses instead).
 */
async function watch(page: Page): Promise<{ problems(): Promise<string[]> }> {
  const consoleErrors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(`console: ${m.text()}`)
  })
  page.on('response', (r) => {
    const failure = `${r.status()} ${new URL(r.url()).pathname}`
    if (r.status() >= 400 && !EXPECTED_FAILURES.some((e) => e.test(failure))) consoleErrors.push(`response: ${failure}`)
  })
  await page.addInitScript(() => {
    const page = globalThis as unknown as PageGlobals
    const seen: string[] = []
    page.__cspViolations = seen
    page.document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`))
  })
  return {
    async problems() {
      const violations = await page.evaluate(() => (globalThis as unknown as PageGlobals).__cspViolations)
      return [...violations.map((v) => `CSP: ${v}`), ...consoleErrors]
    },
  }
}

if (!hasChromium()) {
  t.test('browser tests', { skip: NO_CHROMIUM }, async () => {})
} else {
  t.test('the production CSP in a real browser', async (t) => {
    const server = await startServer(t, productionEnv({ LOG_LEVEL: 'silent' }))
    const browser = await launchBrowser(t)

    await t.test('the SPA signs in, runs a job and shows its results with no CSP violation', async (t) => {
      const { user } = await userWithToken(server, { password: 'a long enough passphrase' })
      const { page } = await newPage(t, browser, server)
      const watcher = await watch(page)
      const response = await page.goto('/sign-in')
      t.match(response?.headers()['content-security-policy'], /script-src 'self' 'sha256-/, 'served with the production CSP')
      await page.getByLabel('E-mail').fill(user.email)
      await page.getByLabel('Password').fill('a long enough passphrase')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.waitForURL((url) => url.pathname === '/')
      t.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).__CONVEYOR__?.environment), 'production', 'the runtime settings script ran')
      await page.getByRole('link', { name: 'New job' }).first().click()
      await page.locator('[data-feature=text-stats]').click()
      await page.getByRole('textbox', { name: /^Text/ }).fill('Content security policy. It holds!')
      await page.getByRole('button', { name: 'Start' }).click()
      await page.waitForURL(/\/jobs\/text-stats\/[0-9a-f-]{36}$/)
      await page.locator('[data-test=status]', { hasText: 'completed' }).waitFor()
      await page.locator('[data-test=result-summary]').waitFor()
      await snap(page, 'csp-production-job')
      t.same(await watcher.problems(), [])
    })

    await t.test('Swagger UI renders the API under its own CSP with no violation', async (t) => {
      const { page } = await newPage(t, browser, server)
      const watcher = await watch(page)
      await page.goto('/api/docs/')
      await page.locator('.swagger-ui .opblock').first().waitFor()
      t.ok(await page.locator('.swagger-ui .opblock').count() > 10, 'the operations are listed')
      await snap(page, 'csp-production-docs')
      t.same(await watcher.problems(), [])
    })
  })
}
