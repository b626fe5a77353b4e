// Account pages in a real browser, with e-mail through a real SMTP sink: forgot password → the link
// in the e-mail → a new password; sign-up with mandatory verification → the link → signed in; bad links.
import t from 'tap'
import { startSmtpSink } from '../support/smtp-sink.ts'
import { userWithToken } from '../helper.ts'
import { GOOD_PASSWORD, hasChromium, NO_CHROMIUM, launchBrowser, newPage, snap, startServer } from './support.ts'

/** The path of the first link in `text` that goes to `prefix` (the e-mail names the server's origin). */
function linkPath(text: string, prefix: string): string {
  const m = new RegExp(`https?://\\S*(${prefix}\\S+)`).exec(text)
  if (!m) throw new Error(`no ${prefix} link in:\n${text}`)
  return m[1]!
}

if (!hasChromium()) {
  t.test('browser tests', { skip: NO_CHROMIUM }, async () => {})
} else {
  t.test('account pages', async (t) => {
    // One server for both flows: verification mandatory for sign-ups; the reset user is verified already.
    const sink = await startSmtpSink()
    t.teardown(() => sink.close())
    const server = await startServer(t, { SMTP_URL: sink.url, ACCOUNT_EMAIL_VERIFICATION: 'mandatory' })
    const browser = await launchBrowser(t)

    await t.test('a forgotten password is replaced through the e-mailed link', async (t) => {
      const { user } = await userWithToken(server, { password: 'the old passphrase 1' })
      const { page } = await newPage(t, browser, server)

      await page.goto('/sign-in')
      await page.getByRole('link', { name: 'Forgot your password?' }).click()
      // Its view is loaded on demand: until it shows, the sign-in form's own E-mail field is the one on the page.
      await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor()
      await page.getByLabel('E-mail').fill(user.email)
      await page.getByRole('button', { name: 'Send the link' }).click()
      await page.locator('[data-test=reset-sent]').waitFor()
      await snap(page, 'forgot-password')
      const mail = await sink.waitFor((m) => m.to.includes(user.email))
      const link = linkPath(mail.text, '/password-reset/')

      await page.goto(link)
      await page.getByLabel('New password', { exact: true }).fill(GOOD_PASSWORD)
      await page.getByLabel('New password again').fill('something else entirely')
      await page.getByRole('button', { name: 'Save the new password' }).click()
      await page.locator('[data-test=field-errors]').first().waitFor()
      t.match(await page.locator('[data-test=field-errors]').allTextContents(), [/match/], 'the mismatch, next to its field')
      await snap(page, 'password-reset-errors')

      await page.getByLabel('New password again').fill(GOOD_PASSWORD)
      await page.getByRole('button', { name: 'Save the new password' }).click()
      await page.locator('[data-test=reset-done]').waitFor()
      await snap(page, 'password-reset-done')

      await page.getByRole('link', { name: 'Sign in' }).last().click()
      await page.getByLabel('E-mail').fill(user.email)
      await page.getByLabel('Password').fill(GOOD_PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.waitForURL((url) => url.pathname === '/')
      t.pass('signed in with the new password')

      await page.goto(link)
      await page.getByLabel('New password', { exact: true }).fill('yet another passphrase')
      await page.getByLabel('New password again').fill('yet another passphrase')
      await page.getByRole('button', { name: 'Save the new password' }).click()
      await page.locator('[data-test=bad-link]').waitFor()
      t.pass('a used link is refused plainly')
      await snap(page, 'password-reset-bad-link')
    })

    await t.test('with mandatory verification, sign-up asks for the e-mailed link, which verifies the address', async (t) => {
      const { page } = await newPage(t, browser, server)
      const email = `verify-${process.pid}@example.com`

      await page.goto('/verify-email/not-a-real-key')
      await page.locator('[data-test=invalid-link]').waitFor()
      t.pass('a bad key says so, and offers a new link')
      await snap(page, 'verify-email-invalid')

      await page.goto('/sign-up')
      await page.getByLabel('Name').fill('Vera')
      await page.getByLabel('E-mail').fill(email)
      await page.getByLabel('Password', { exact: true }).fill(GOOD_PASSWORD)
      await page.getByLabel('Password again').fill(GOOD_PASSWORD)
      await page.getByRole('button', { name: 'Create account' }).click()
      await page.getByText('Open it to verify your address').waitFor()
      t.equal(new URL(page.url()).pathname, '/sign-up', 'not signed in yet')

      await page.goto('/sign-in')
      await page.getByLabel('E-mail').fill(email)
      await page.getByLabel('Password').fill(GOOD_PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.locator('[data-test=form-error]', { hasText: 'E-mail is not verified.' }).waitFor()
      t.pass('sign-in waits for the verification')

      const mail = await sink.waitFor((m) => m.to.includes(email))
      await page.goto(linkPath(mail.text, '/verify-email/'))
      await page.locator('[data-test=verified]').waitFor()
      await snap(page, 'verify-email-done')
      await page.getByRole('link', { name: 'Sign in' }).last().click()
      await page.getByLabel('E-mail').fill(email)
      await page.getByLabel('Password').fill(GOOD_PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.waitForURL((url) => url.pathname === '/')
      t.pass('signed in once verified')
    })
  })
}
