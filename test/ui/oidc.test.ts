// Social login in a real browser: "Continue with" on the sign-in page, the provider's own login and
// consent pages (a real oidc-provider on another site), back signed in on the dashboard; the
// profile lists the linked provider and refuses to unlink the only way to sign in; the sign-in page
// explains an error code.
import t from 'tap'
import { CLIENT, startProvider } from '../oidc/support.ts'
import { hasChromium, NO_CHROMIUM, launchBrowser, newPage, snap, startServer } from './support.ts'

if (!hasChromium()) {
  t.test('browser tests', { skip: NO_CHROMIUM }, async () => {})
} else {
  t.test('social login', async (t) => {
    // "localhost" for the provider, 127.0.0.1 for the app: two sites, as with a real provider.
    const idp = await startProvider(t, { FIXTURE_HOST: 'localhost' })
    const server = await startServer(t, {
      OIDC_PROVIDERS: 'test',
      OIDC_TEST_ISSUER: idp.issuer,
      OIDC_TEST_CLIENT_ID: CLIENT.id,
      OIDC_TEST_CLIENT_SECRET: CLIENT.secret,
      OIDC_TEST_NAME: 'Test ID',
    })
    const browser = await launchBrowser(t)

    await t.test('"Continue with" signs in at the provider and lands signed in on the dashboard', async (t) => {
      const { page } = await newPage(t, browser, server)
      await page.goto('/sign-in')
      await page.getByRole('link', { name: 'Continue with Test ID' }).waitFor()
      await snap(page, 'oidc-sign-in')
      await page.getByRole('link', { name: 'Continue with Test ID' }).click()

      await page.waitForURL((url) => url.origin === idp.issuer)
      await page.locator('input[name=login]').fill('ada@example.com')
      await page.locator('input[name=password]').fill('any password')
      await snap(page, 'oidc-provider-login')
      await page.getByRole('button', { name: 'Sign-in' }).click()
      await page.getByRole('button', { name: 'Continue' }).click() // the provider's consent page

      await page.waitForURL((url) => url.origin === server.origin && url.pathname === '/')
      await page.locator('[data-test=who]', { hasText: 'ada@example.com' }).waitFor()
      t.pass('signed in on the dashboard')
      await snap(page, 'oidc-dashboard')

      await page.getByRole('link', { name: 'Profile' }).click()
      await page.locator('[data-test=linked-accounts]', { hasText: 'Test ID' }).waitFor()
      t.pass('the profile lists the linked provider')
      await page.getByRole('button', { name: 'Unlink' }).click()
      await page.locator('[data-test=linked-error]', { hasText: 'only way to sign in' }).waitFor()
      t.pass('unlinking the only way to sign in is refused, and says why')
      await snap(page, 'oidc-profile')
    })

    await t.test('the sign-in page explains why a provider sign-in failed', async (t) => {
      const { page } = await newPage(t, browser, server)
      await page.goto('/sign-in?error=unverified_email')
      await page.locator('[data-test=provider-error]', { hasText: 'not verified at the provider' }).waitFor()
      t.pass('the message for the code')
      await snap(page, 'oidc-sign-in-error')
    })

    await t.test('the sign-up page offers the providers too', async (t) => {
      const { page } = await newPage(t, browser, server)
      await page.goto('/sign-up')
      await page.getByRole('link', { name: 'Continue with Test ID' }).waitFor()
      t.match(await page.getByRole('link', { name: 'Continue with Test ID' }).getAttribute('href'), /\/api\/v1\/auth\/oidc\/test\/login\/$/)
    })
  })
}
