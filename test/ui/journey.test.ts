// The main journey in a real browser against the real server: sign up, run a text-stats job and
// watch it finish live, read and download its results, sign out; the guard and sign-in errors.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { GOOD_PASSWORD, hasChromium, NO_CHROMIUM, launchBrowser, newPage, snap, startServer } from './support.ts'

if (!hasChromium()) {
  t.test('browser tests', { skip: NO_CHROMIUM }, async () => {})
} else {
  t.test('a new user signs up, runs a job, watches it finish live, downloads the results and signs out', async (t) => {
    const server = await startServer(t)
    const browser = await launchBrowser(t)
    const { page } = await newPage(t, browser, server)
    const email = `ui-${process.pid}@example.com`

    await t.test('a signed-out visitor is sent to sign-in', async (t) => {
      await page.goto('/')
      await page.waitForURL('**/sign-in')
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
      t.equal(await page.title(), 'Sign in · Conveyor')
      await snap(page, 'sign-in')
    })

    await t.test('sign-up shows every server error next to its field, all at once', async (t) => {
      await page.getByRole('link', { name: 'Create an account' }).click()
      await page.waitForURL('**/sign-up')
      await page.getByLabel('E-mail').fill(email)
      await page.getByLabel('Password', { exact: true }).fill('1234')
      await page.getByLabel('Password again').fill('12345')
      await page.getByRole('button', { name: 'Create account' }).click()
      const passwordErrors = page.locator('.field', { has: page.getByLabel('Password', { exact: true }) }).locator('[data-test=field-errors] li')
      await passwordErrors.first().waitFor()
      const messages = await passwordErrors.allTextContents()
      t.ok(messages.some((m) => /too short/.test(m)), 'too short, next to the password')
      t.ok(messages.some((m) => /entirely numeric/.test(m)), 'entirely numeric, next to the password')
      t.match(await page.locator('[data-test=form-error]').textContent(), /didn.t match|do not match|must match/i, 'the mismatch, above the form')
      t.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true')
      await snap(page, 'sign-up-errors')
    })

    await t.test('a valid sign-up lands on the empty dashboard, signed in', async (t) => {
      await page.getByLabel('Password', { exact: true }).fill(GOOD_PASSWORD)
      await page.getByLabel('Password again').fill(GOOD_PASSWORD)
      await page.getByRole('button', { name: 'Create account' }).click()
      await page.waitForURL((url) => url.pathname === '/')
      await page.locator('[data-test=no-jobs]').waitFor()
      t.equal(await page.locator('[data-test=who]').textContent(), email)
      const cookies = await page.context().cookies()
      t.ok(cookies.find((c) => c.name === 'conveyor_token')?.httpOnly, 'the key is in an HttpOnly cookie')
      const token = cookies.find((c) => c.name === 'conveyor_token')!.value
      const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }))
      t.notOk(stored.includes(token), 'the SPA does not store the key')
      await snap(page, 'dashboard-empty')
    })

    let jobPath = ''
    await t.test('a text-stats job created from the generated form completes live on its page', async (t) => {
      const streams: string[] = []
      page.on('request', (r) => { if (r.url().includes('/events/')) streams.push(r.url()) })
      await page.getByRole('link', { name: 'New job' }).first().click()
      await page.waitForURL('**/jobs/new')
      await page.locator('[data-feature=text-stats]').click()
      await page.getByRole('textbox', { name: /^Text/ }).fill('The quick brown fox jumps over the lazy dog. The dog sleeps!\nThe end.')
      await page.getByLabel('Top n').fill('5')
      await snap(page, 'new-job')
      await page.getByRole('button', { name: 'Start' }).click()
      await page.waitForURL(/\/jobs\/text-stats\/[0-9a-f-]{36}$/)
      jobPath = new URL(page.url()).pathname
      await page.locator('[data-test=status]', { hasText: 'completed' }).waitFor()
      t.equal(streams.length, 1, 'status arrived over one event stream')
      t.notOk(await page.getByText('Live updates are unavailable').isVisible(), 'no polling fallback')
      await page.locator('[data-test=result-summary]').waitFor()
      const tiles = await page.locator('[data-test=result-summary] .stat').allInnerTexts()
      t.ok(tiles.some((s) => /Words\s+14/.test(s)), 'word count shown')
      t.ok(tiles.some((s) => /Sentences\s+3/.test(s)), 'sentence count shown')
      const rows = await page.getByRole('table', { name: 'Top words' }).locator('tbody tr').allInnerTexts()
      t.equal(rows.length, 5, 'top 5 words')
      t.match(rows[0], /1\s+the\s+4/, 'the most frequent word first')
      await snap(page, 'job-text-stats')
    })

    await t.test('the result downloads work with the cookie', async (t) => {
      const [csv] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=download-csv]').click()])
      t.match(csv.suggestedFilename(), /^text-stats-.*\.csv$/)
      t.match(await readFile((await csv.path())!, 'utf8'), /^metric,value\n(.|\n)*words,14\n/)
      const [json] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=download-json]').click()])
      t.match(JSON.parse(await readFile((await json.path())!, 'utf8')), { words: 14, sentences: 3 })
    })

    await t.test('the dashboard lists the job as completed', async (t) => {
      await page.getByRole('link', { name: 'Jobs', exact: true }).click()
      const row = page.locator('[data-test=jobs] tbody tr')
      await row.first().waitFor()
      t.equal(await row.count(), 1)
      t.equal(await row.locator('[data-test=status]').textContent(), 'completed')
      t.equal(await row.locator('progress').getAttribute('value'), '100')
      t.equal(await row.getByRole('link').getAttribute('href'), jobPath)
      await snap(page, 'dashboard')
    })

    await t.test('signing out ends the session and guarded pages send to sign-in', async (t) => {
      await page.locator('[data-test=sign-out]').click()
      await page.waitForURL('**/sign-in')
      t.notOk((await page.context().cookies()).some((c) => c.name === 'conveyor_token'), 'cookie cleared')
      await page.goto('/jobs/new')
      await page.waitForURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === '/jobs/new')
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    })

    await t.test('a wrong password shows the server\'s error; the right one goes where the user was headed', async (t) => {
      await page.getByLabel('E-mail').fill(email)
      await page.getByLabel('Password').fill('not the password')
      await page.getByRole('button', { name: 'Sign in' }).click()
      const alert = page.locator('[data-test=form-error]')
      await alert.waitFor()
      t.equal((await alert.textContent())?.trim(), 'Unable to log in with provided credentials.')
      await snap(page, 'sign-in-error')
      await page.getByLabel('Password').fill(GOOD_PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.waitForURL('**/jobs/new')
      await page.getByRole('heading', { name: 'New job' }).waitFor()
      t.pass('signed in, on the page asked for before')
    })
  })
}
