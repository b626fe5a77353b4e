// The Monitoring page in a real browser: a staff member pauses a feature, creates a job that stays
// pending, resumes it from the page and watches it complete with its log; the cards, instances and
// the throughput chart render (screenshot: /tmp/ui-monitoring.png); users get no Monitoring link.
import t from 'tap'
import type { Page } from 'playwright-core'
import { api, userWithToken } from '../helper.ts'
import { settled, until } from '../jobs/support.ts'
import { MONITORING_FEATURES } from '../monitoring/support.ts'
import { hasChromium, NO_CHROMIUM, launchBrowser, newPage, snap, startServer } from './support.ts'

const PASSWORD = 'a long enough passphrase'

async function signIn(page: Page, email: string) {
  await page.goto('/sign-in')
  await page.getByLabel('E-mail').fill(email)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL((url) => url.pathname === '/')
}

if (!hasChromium()) {
  t.test('browser tests', { skip: NO_CHROMIUM }, async () => {})
} else {
  t.test('monitoring in the browser', async (t) => {
    const server = await startServer(t, { FEATURE_MODULES: MONITORING_FEATURES })
    const staff = await userWithToken(server, { password: PASSWORD, isStaff: true })
    const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
      api(server.app, { method, url, headers: staff.headers, ...(payload ? { payload } : {}) })
    // Some history for the chart: completed and failed requests.
    const history: string[] = []
    for (let i = 0; i < 6; i++) history.push((await call('POST', '/api/v1/mon-work/create/', i % 3 === 2 ? { fail: true } : {})).data.id)
    await until(() => Promise.all(history.map((id) => call('GET', `/api/v1/mon-work/status/${id}/`))),
      (rs) => rs.every((r) => ['completed', 'failed'].includes(r.data.status)))

    const browser = await launchBrowser(t)
    const { page } = await newPage(t, browser, server, { viewport: { width: 1280, height: 900 } })
    await signIn(page, staff.user.email)
    const card = page.locator('[data-test=feature-mon-work]')

    await t.test('the page shows every queue, the instances and the last hour\'s chart', async (t) => {
      await page.locator('[data-test=nav-monitoring]').click()
      await page.waitForURL('**/monitoring')
      await card.waitFor()
      t.equal(await card.locator('[data-test=failed]').textContent(), '2', 'failures of the last hour')
      await page.locator('[data-test=throughput-chart] .uplot canvas').waitFor()
      t.equal(await page.locator('[data-test=instances] tbody tr').count(), 1, 'this instance')
      t.match(await page.locator('[data-test=busy-threads]').textContent(), /^0 \/ 2$/)
    })

    let jobPath = ''
    await t.test('a paused feature\'s new job stays pending', async (t) => {
      await card.locator('[data-test=pause]').click()
      await card.locator('[data-test=paused]').waitFor()
      t.equal((await call('GET', '/api/v1/admin/monitoring/')).data.features.find((f: { name: string }) => f.name === 'mon-work').paused, true)
      await page.goto('/jobs/new?feature=mon-work')
      await page.locator('[data-test=job-form]').waitFor()
      await page.locator('input[name=lines]').fill('3')
      await page.getByRole('button', { name: 'Start' }).click()
      await page.waitForURL(/\/jobs\/mon-work\/[0-9a-f-]{36}$/)
      jobPath = new URL(page.url()).pathname
      await page.locator('main [data-test=status]', { hasText: 'pending' }).waitFor()
      // A job of another feature created later runs to completion: the engine has looked at the queues.
      const canary = (await call('POST', '/api/v1/mon-other/create/', { ms: 200 })).data.id
      await settled(server.app, () => call('GET', `/api/v1/mon-other/status/${canary}/`), canary, (r) => r.data.status === 'completed')
      t.equal((await call('GET', `/api/v1${jobPath.replace('/jobs', '').replace(/\/([^/]+)$/, '/status/$1/')}`)).data.status, 'pending')
    })

    await t.test('resumed from the monitoring page, the job completes live with its log', async (t) => {
      // The job page stays open in a second tab, following the job live.
      const { page: watcher } = await newPage(t, browser, server, { signedInAs: page.context() })
      await watcher.goto(jobPath)
      await watcher.locator('main [data-test=status]', { hasText: 'pending' }).waitFor()
      await page.goto('/monitoring')
      await card.locator('[data-test=queued]', { hasText: '1' }).waitFor()
      await snap(page, 'monitoring-paused')
      await card.locator('[data-test=resume]').click()
      await card.locator('[data-test=pause]').waitFor()
      await watcher.locator('main [data-test=status]', { hasText: 'completed' }).waitFor()
      t.same(await watcher.locator('[data-test=log-line] .message').allTextContents(), ['line 1', 'line 2', 'line 3'], 'the log, live')
      await snap(watcher, 'job-log')
    })

    await t.test('the concurrency limit is set from the card', async (t) => {
      await card.locator('[data-test=concurrency]').fill('2')
      await card.locator('[data-test=save-concurrency]').click()
      await until(() => call('GET', '/api/v1/admin/monitoring/'), (r) => r.data.features.find((f: { name: string }) => f.name === 'mon-work').concurrency === 2)
      await card.locator('[data-test=save-concurrency]:disabled').waitFor()
      t.equal(await card.locator('[data-test=concurrency]').inputValue(), '2')
      // The refreshed page shows the new totals; a screenshot for a human to look at.
      await page.locator('[data-test=throughput-chart] .uplot canvas').waitFor()
      await snap(page, 'monitoring')
    })

    await t.test('a user sees no Monitoring link', async (t) => {
      const user = await userWithToken(server, { password: PASSWORD })
      const { page: other } = await newPage(t, browser, server)
      await signIn(other, user.user.email)
      await other.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'New job' }).waitFor()
      t.equal(await other.locator('[data-test=nav-monitoring]').count(), 0)
    })
  })
}
