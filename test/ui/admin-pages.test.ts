// The staff pages in a real browser against the real server and engine: a staff member finds a user
// by e-mail and deactivates them (who then cannot log in), bulk-retries failed jobs and watches them
// complete, creates and disables a schedule, and finds it all in the audit log; non-staff and
// anonymous visitors are kept out; dialogs, sorting and the URL-kept list state; phone width.
import path from 'node:path'
import t from 'tap'
import type { Page } from 'playwright-core'
import { api, userWithToken } from '../helper.ts'
import { settled, until } from '../jobs/support.ts'
import { hasChromium, NO_CHROMIUM, launchBrowser, newPage, snap, startServer, waitInPage, type UiServer } from './support.ts'

const FEATURES = path.join(import.meta.dirname, 'fixtures', 'admin-features.ts')
const PASSWORD = 'a long enough passphrase'
const PHONE = { width: 390, height: 844 }

async function signIn(page: Page, email: string, password = PASSWORD) {
  await page.goto('/sign-in')
  await page.getByLabel('E-mail').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL((url) => url.pathname === '/')
}

const rows = (page: Page) => page.locator('[data-test=data-table] tbody tr')
const row = (page: Page, key: string | number) => page.locator(`[data-test=data-table] tbody tr[data-key="${key}"]`)
const login = (server: UiServer, email: string, password = PASSWORD) =>
  api(server.app, { method: 'POST', url: '/api/v1/auth/login/', payload: { email, password } })

if (!hasChromium()) {
  t.test('browser tests', { skip: NO_CHROMIUM }, async () => {})
} else {
  t.test('staff pages', async (t) => {
    const server = await startServer(t, { FEATURE_MODULES: FEATURES })
    const tag = `${process.pid}`
    const staff = await userWithToken(server, { email: `staff-${tag}@example.com`, password: PASSWORD, isStaff: true, name: 'Stella Staff' })
    const target = await userWithToken(server, { email: `target-${tag}@example.com`, password: PASSWORD, name: 'Tom Target' })
    const plain = await userWithToken(server, { email: `plain-${tag}@example.com`, password: PASSWORD })
    const colleague = await userWithToken(server, { email: `colleague-${tag}@example.com`, password: PASSWORD, isStaff: true })
    for (let i = 0; i < 3; i++) await userWithToken(server, { email: `extra${i}-${tag}@example.com`, password: PASSWORD })
    const browser = await launchBrowser(t)
    const { context, page } = await newPage(t, browser, server)
    await signIn(page, staff.user.email)

    await t.test('an anonymous visitor of a staff page goes to sign-in, and comes back after', async (t) => {
      const { page: anon } = await newPage(t, browser, server)
      await anon.goto('/admin/users')
      await anon.waitForURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === '/admin/users')
      t.pass('sent to sign-in with the way back')
    })

    await t.test('a non-staff user typing /admin/users sees the not-allowed page at that address', async (t) => {
      const { page: other } = await newPage(t, browser, server)
      await signIn(other, plain.user.email)
      t.equal(await other.locator('[data-test=admin-link]').count(), 0, 'no staff link in the navigation')
      await other.goto('/admin/users')
      await other.locator('[data-test=not-allowed]').waitFor()
      t.equal(new URL(other.url()).pathname, '/admin/users', 'the address stays as typed')
      t.equal(await other.title(), 'Not allowed · Conveyor')
      t.equal(await other.locator('[data-test=data-table]').count(), 0, 'no user list behind it')
      await snap(other, 'admin-not-allowed')
    })

    await t.test('the staff link leads to the users, and focus moves to each page heading', async (t) => {
      await page.locator('[data-test=admin-link]').click()
      await page.waitForURL((url) => url.pathname === '/admin/users')
      await rows(page).first().waitFor()
      t.equal(await page.evaluate('document.activeElement?.textContent'), 'Users')
      await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Audit log' }).click()
      await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor()
      await waitInPage(page, "document.activeElement?.tagName === 'H1' && document.activeElement.textContent === 'Audit log'")
      t.pass('focus on the heading after navigating')
    })

    await t.test('a staff member finds a user by e-mail as they type, and the URL keeps the search', async (t) => {
      await page.goto('/admin/users')
      await rows(page).first().waitFor()
      t.ok((await rows(page).count()) >= 7, 'every user listed')
      await page.getByLabel('Search e-mail or name').pressSequentially(`target-${tag}`)
      await page.waitForURL((url) => url.searchParams.get('search') === `target-${tag}`)
      await waitInPage(page, "document.querySelectorAll('[data-test=data-table] tbody tr').length === 1")
      t.equal(await row(page, target.user.id).locator('[data-col=email]').textContent(), target.user.email)
      await page.reload()
      await row(page, target.user.id).waitFor()
      t.equal(await rows(page).count(), 1, 'a reload shows the same view')
      t.equal(await page.getByLabel('Search e-mail or name').inputValue(), `target-${tag}`)
      await snap(page, 'admin-users-search')
    })

    await t.test('deactivating a user ends their sessions and they cannot log in', async (t) => {
      t.equal((await login(server, target.user.email)).statusCode, 200, 'can log in before')
      await row(page, target.user.id).locator('[data-test=deactivate]').click()
      await page.locator('[data-test=action-done]', { hasText: 'deactivated' }).waitFor()
      await row(page, target.user.id).locator('[data-test=activate]').waitFor()
      t.equal(await row(page, target.user.id).locator('[data-col=is_active]').textContent(), 'No')
      const res = await login(server, target.user.email)
      t.equal(res.statusCode, 400)
      t.same(res.data, { non_field_errors: ['Unable to log in with provided credentials.'] })
      const old = await api(server.app, { method: 'GET', url: '/api/v1/auth/user/', headers: target.headers })
      t.equal(old.statusCode, 401, 'the session they had is revoked')
    })

    await t.test('filters and sortable headers are kept in the URL, with aria-sort on the headers', async (t) => {
      await page.goto('/admin/users?is_active=false')
      await row(page, target.user.id).waitFor()
      t.equal(await rows(page).count(), 1, 'only the inactive user')
      await page.goto('/admin/users')
      await rows(page).first().waitFor()
      const email = page.locator('th:has(button[data-sort=email])')
      const joined = page.locator('th:has(button[data-sort=date_joined])')
      t.equal(await email.getAttribute('aria-sort'), 'ascending', 'ordered by e-mail by default')
      t.equal(await joined.getAttribute('aria-sort'), 'none')
      await joined.locator('button').click()
      await page.waitForURL((url) => url.searchParams.get('ordering') === 'date_joined')
      await joined.locator('button').focus()
      await page.keyboard.press('Enter')
      await page.waitForURL((url) => url.searchParams.get('ordering') === '-date_joined')
      await waitInPage(page, "document.querySelector('th:has(button[data-sort=date_joined])')?.getAttribute('aria-sort') === 'descending'")
      t.equal(await email.getAttribute('aria-sort'), 'none')
      await waitInPage(page, `document.querySelector('[data-test=data-table] tbody tr')?.getAttribute('data-key') === '${colleague.user.id + 3}'`)
      t.pass('newest first: the last user created leads')
    })

    await t.test('an empty result offers to clear the filters; a bad filter names itself', async (t) => {
      await page.goto('/admin/users?search=nobody-at-all&is_staff=true')
      const empty = page.locator('[data-test=table-empty]')
      await empty.waitFor()
      await empty.getByRole('button', { name: 'Clear the filters' }).click()
      await page.waitForURL((url) => url.search === '')
      await rows(page).first().waitFor()
      t.equal(await page.getByLabel('Search e-mail or name').inputValue(), '', 'the search box emptied too')
      await page.goto('/admin/jobs?user=abc')
      const error = page.locator('[data-test=table-error]')
      await error.waitFor()
      t.match(await error.textContent(), /user/, 'the 400 names the filter')
      await snap(page, 'admin-jobs-bad-filter')
    })

    await t.test('the API\'s refusal shows inline: a staff member who is no superuser cannot deactivate another', async (t) => {
      await page.goto(`/admin/users?search=colleague-${tag}`)
      await row(page, colleague.user.id).locator('[data-test=deactivate]').click()
      const alert = page.locator('[data-test=action-error]')
      await alert.waitFor()
      t.match(await alert.textContent(), /permission/)
      t.equal(await row(page, colleague.user.id).locator('[data-col=is_active]').textContent(), 'Yes', 'still active')
    })

    await t.test('creating a user shows the server\'s field errors next to the fields; no staff box for a non-superuser', async (t) => {
      await page.goto('/admin/users')
      await page.locator('[data-test=new-user]').click()
      const dialog = page.getByRole('dialog', { name: 'New user' })
      await dialog.waitFor()
      t.equal(await page.evaluate('document.activeElement?.name'), 'email', 'focus on the first field')
      t.equal(await dialog.getByRole('checkbox', { name: /^Staff/ }).count(), 0, 'only superusers may make staff')
      await dialog.getByLabel('E-mail').fill(target.user.email.toUpperCase())
      await dialog.getByRole('button', { name: 'Create user' }).click()
      const errors = dialog.locator('[data-test=field-errors]')
      await errors.first().waitFor()
      t.match(await errors.first().textContent(), /already/)
      await dialog.getByLabel('E-mail').fill(`new-${tag}@example.com`)
      await dialog.getByLabel('Name').fill('Nina New')
      await dialog.getByRole('button', { name: 'Create user' }).click()
      await page.locator('[data-test=action-done]', { hasText: 'created' }).waitFor()
      t.notOk(await dialog.isVisible(), 'the dialog closed')
      const list = await api(server.app, { method: 'GET', url: `/api/v1/admin/users/?search=new-${tag}`, headers: staff.headers })
      t.match(list.data.results, [{ email: `new-${tag}@example.com`, name: 'Nina New', is_staff: false }])
    })

    await t.test('setting a password checks the rules next to the field; the user then logs in with it', async (t) => {
      const someone = await userWithToken(server, { email: `someone-${tag}@example.com`, password: PASSWORD })
      await page.goto(`/admin/users?search=someone-${tag}`)
      await row(page, someone.user.id).getByRole('button', { name: `Set the password of ${someone.user.email}` }).click()
      const dialog = page.getByRole('dialog', { name: `Set the password of ${someone.user.email}` })
      await dialog.getByLabel('New password').fill('12345678')
      await dialog.getByRole('button', { name: 'Set password' }).click()
      await dialog.locator('[data-test=field-errors]').waitFor()
      t.match(await dialog.locator('[data-test=field-errors]').textContent(), /numeric|common/)
      await dialog.getByLabel('New password').fill('a brand new passphrase')
      await dialog.getByRole('button', { name: 'Set password' }).click()
      await page.locator('[data-test=action-done]', { hasText: 'password set' }).waitFor()
      t.equal((await login(server, someone.user.email, 'a brand new passphrase')).statusCode, 200)
      t.equal((await login(server, someone.user.email)).statusCode, 400, 'the old one no longer works')
    })

    await t.test('a superuser gets the staff box and makes a user staff', async (t) => {
      const boss = await userWithToken(server, { email: `boss-${tag}@example.com`, password: PASSWORD, isStaff: true, isSuperuser: true })
      const { page: su } = await newPage(t, browser, server)
      await signIn(su, boss.user.email)
      await su.goto(`/admin/users?search=plain-${tag}`)
      await row(su, plain.user.id).getByRole('button', { name: `Edit ${plain.user.email}` }).click()
      const dialog = su.getByRole('dialog', { name: `Edit ${plain.user.email}` })
      await dialog.waitFor()
      await dialog.getByRole('checkbox', { name: /^Staff/ }).check()
      await dialog.getByRole('button', { name: 'Save' }).click()
      await su.locator('[data-test=action-done]', { hasText: 'saved' }).waitFor()
      t.equal(await row(su, plain.user.id).locator('[data-col=is_staff]').textContent(), 'Yes')
      const res = await api(server.app, { method: 'PATCH', url: `/api/v1/admin/users/${plain.user.id}/`, headers: boss.headers, payload: { is_staff: false } })
      t.equal(res.data.is_staff, false, 'and back, for the tests that follow')
    })

    await t.test('delete asks in a modal dialog that returns focus, then deletes', async (t) => {
      const victim = await userWithToken(server, { email: `victim-${tag}@example.com`, password: PASSWORD })
      await page.goto(`/admin/users?search=victim-${tag}`)
      const button = row(page, victim.user.id).locator('[data-test=delete]')
      await button.click()
      const dialog = page.getByRole('dialog', { name: `Delete ${victim.user.email}?` })
      await dialog.waitFor()
      t.equal(await page.evaluate('document.activeElement?.textContent'), 'Cancel', 'focus on the safe choice')
      await snap(page, 'admin-users-delete-dialog')
      await page.keyboard.press('Escape')
      await dialog.waitFor({ state: 'hidden' })
      t.equal(await page.evaluate("document.activeElement?.getAttribute('data-test')"), 'delete', 'focus back on the Delete button')
      await button.click()
      await dialog.getByRole('button', { name: 'Delete user' }).click()
      await page.locator('[data-test=table-empty]').waitFor()
      const res = await api(server.app, { method: 'GET', url: `/api/v1/admin/users/${victim.user.id}/`, headers: staff.headers })
      t.equal(res.statusCode, 404)
    })

    await t.test('bulk-retrying two failed jobs shows each outcome, and the rows complete live', async (t) => {
      const ids: string[] = []
      for (const label of ['first', 'second']) {
        const res = await api(server.app, { method: 'POST', url: '/api/v1/flaky/create/', headers: plain.headers, payload: { label } })
        ids.push(res.data.id)
      }
      for (const id of ids) {
        await settled(server.app, () => api(server.app, { method: 'GET', url: `/api/v1/flaky/status/${id}/`, headers: plain.headers }), id, (r) => r.data.status === 'failed')
      }
      await page.goto('/admin/jobs?feature=flaky')
      for (const id of ids) await row(page, id).locator('[data-test=status]', { hasText: 'failed' }).waitFor()
      await snap(page, 'admin-jobs-failed')
      await page.evaluate('window.marker = 1')
      // Keyboard: Space on the focused "select all" box.
      await page.locator('[data-test=select-all]').focus()
      await page.keyboard.press('Space')
      t.equal(await page.locator('[data-test=select-row]:checked').count(), 2, 'both rows selected')
      t.equal(await page.locator('[data-test=bulk-bar] .count').textContent(), '2 selected')
      await page.locator('[data-test=bulk-retry]').click()
      const outcome = page.locator('[data-test=bulk-results]')
      await outcome.getByText('2 of 2 retried.').waitFor()
      t.same(await outcome.locator('li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-ok'))), ['true', 'true'])
      for (const id of ids) await row(page, id).locator('[data-test=status]', { hasText: 'completed' }).waitFor({ timeout: 20_000 })
      t.equal(await page.evaluate('window.marker'), 1, 'without reloading the page')
      await snap(page, 'admin-jobs-retried')
      for (const id of ids) {
        const status = await api(server.app, { method: 'GET', url: `/api/v1/flaky/status/${id}/`, headers: plain.headers })
        t.match(status.data, { status: 'completed', attempts: 2 })
      }
    })

    await t.test('the detail drawer shows input, error, attempts and queue state', async (t) => {
      const res = await api(server.app, { method: 'POST', url: '/api/v1/flaky/create/', headers: plain.headers, payload: { label: 'look at me' } })
      const id = res.data.id as string
      await settled(server.app, () => api(server.app, { method: 'GET', url: `/api/v1/flaky/status/${id}/`, headers: plain.headers }), id, (r) => r.data.status === 'failed')
      await page.goto(`/admin/jobs?search=${id.slice(0, 8)}`)
      await row(page, id).locator('[data-test=open-detail]').click()
      const drawer = page.getByRole('dialog', { name: /^Flaky / })
      await drawer.locator('[data-test=detail-error]').waitFor()
      t.match(await drawer.locator('[data-test=detail-error]').textContent(), /First attempts always fail\./)
      t.match(await drawer.locator('[data-test=detail-input]').textContent(), /"label": "look at me"/)
      t.equal(await drawer.locator('[data-test=detail-attempts]').textContent(), '1')
      t.match(await drawer.locator('[data-test=detail-queue]').textContent(), /State\s*failed/)
      await snap(page, 'admin-job-drawer')
      await drawer.locator('[data-test=detail-retry]').click()
      await drawer.locator('[data-test=status]', { hasText: 'completed' }).waitFor({ timeout: 20_000 })
      t.equal(await drawer.locator('[data-test=detail-attempts]').textContent(), '2', 'the drawer follows the retry live')
      t.match(await drawer.locator('[data-test=detail-results]').textContent(), /"attempt": 2/)
      await page.keyboard.press('Escape')
      await drawer.waitFor({ state: 'hidden' })
    })

    let scheduleId = ''
    await t.test('a staff member creates a schedule (cron in words, errors by the field) and disables it', async (t) => {
      await page.goto('/admin/schedules')
      await page.locator('[data-test=new-schedule]').click()
      const dialog = page.getByRole('dialog', { name: 'New schedule' })
      await dialog.waitFor()
      await dialog.getByLabel('Name').fill(`nightly-${tag}`)
      await dialog.getByLabel('Runs').selectOption('flaky')
      await dialog.getByLabel('Label').fill('from the schedule')
      await dialog.getByLabel('When (cron)').fill('0 3 * * 1-5')
      t.equal(await dialog.locator('[data-test=cron-words]').textContent(), 'At 03:00, on Monday to Friday')
      await dialog.getByLabel('When (cron)').fill('0 3 * *')
      t.equal(await dialog.locator('[data-test=cron-words]').textContent(), 'Not five valid fields yet.')
      await dialog.getByLabel('When (cron)').fill('0 25 * * *')
      await dialog.getByRole('button', { name: 'Create schedule' }).click()
      const cronErrors = dialog.locator('.field:has([name=cron]) [data-test=field-errors]')
      await cronErrors.waitFor()
      t.ok((await cronErrors.textContent())?.length, 'the server\'s message about the cron, next to it')
      await dialog.getByLabel('When (cron)').fill('30 3 * * *')
      await snap(page, 'admin-schedule-dialog')
      await dialog.getByRole('button', { name: 'Create schedule' }).click()
      await page.locator('[data-test=action-done]', { hasText: 'Next run' }).waitFor()
      const list = await api(server.app, { method: 'GET', url: '/api/v1/admin/schedules/', headers: staff.headers })
      const created = list.data.results.find((s: { name: string }) => s.name === `nightly-${tag}`)
      t.match(created, { feature: 'flaky', cron: '30 3 * * *', enabled: true, input: { label: 'from the schedule' } })
      scheduleId = created.id
      const r = row(page, scheduleId)
      t.match(await r.locator('[data-col=cron]').textContent(), /At 03:30, every day/)
      await r.locator('[data-test=run-now]').click()
      const started = page.locator('[data-test=action-done]', { hasText: 'a job was started' })
      await started.waitFor()
      await started.getByRole('link', { name: /^See job/ }).click()
      await page.waitForURL((url) => url.pathname === '/admin/jobs' && Boolean(url.searchParams.get('search')))
      await rows(page).first().waitFor()
      t.equal(await rows(page).count(), 1, 'the job it started, one click away')
      await page.goto('/admin/schedules')
      await r.locator('[data-test=disable]').click()
      await r.locator('[data-test=enable]').waitFor()
      t.equal(await r.locator('[data-col=enabled]').textContent(), 'No')
      const now = await api(server.app, { method: 'GET', url: `/api/v1/admin/schedules/${scheduleId}/`, headers: staff.headers })
      t.match(now.data, { enabled: false, next_run_at: null })
      await snap(page, 'admin-schedules')
    })

    await t.test('the audit log has all of it, newest first, and filters by actor and object', async (t) => {
      await page.goto(`/admin/audit-log?actor=${staff.user.id}`)
      await rows(page).first().waitFor()
      const entries = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.querySelector('[data-col=object] a')?.textContent?.trim().split(/\s+/)[0] + ' ' + tr.querySelector('[data-col=object] [data-test=action]')?.textContent))
      t.ok(entries.some((e) => e.startsWith('user ') && /update/.test(e)), 'the deactivation')
      t.ok(entries.some((e) => e.startsWith('job ')), 'the retries')
      t.ok(entries.some((e) => e.startsWith('schedule ')), 'the schedule')
      await snap(page, 'admin-audit')
      const res = await api(server.app, { method: 'GET', url: `/api/v1/admin/audit-log/?actor=${staff.user.id}`, headers: staff.headers })
      const ats = res.data.results.map((e: { at: string }) => e.at)
      t.same(ats, [...ats].sort().reverse(), 'newest first')

      await page.goto(`/admin/audit-log?object_type=user&object_id=${target.user.id}`)
      await rows(page).first().waitFor()
      t.equal(await rows(page).count(), 1, 'one change to that user')
      t.match(await rows(page).first().locator('[data-col=changes]').textContent(), /is_active: false/)

      await page.goto(`/admin/audit-log?object_type=schedule&object_id=${scheduleId}`)
      await waitInPage(page, "document.querySelectorAll('[data-test=data-table] tbody tr').length === 3")
      t.same(await rows(page).locator('[data-test=action]').allTextContents(), ['update', 'run_now', 'create'], 'created, run, disabled: newest first')
      t.match(await rows(page).first().locator('[data-col=changes]').textContent(), /enabled: false/)
    })

    await t.test('at a phone\'s width the pages fit and the tables scroll inside their frame', async (t) => {
      const { page: phone } = await newPage(t, browser, server, { viewport: PHONE, signedInAs: context })
      for (const [path, name] of [['/admin/users', 'users'], ['/admin/jobs', 'jobs'], ['/admin/schedules', 'schedules'], ['/admin/audit-log', 'audit']]) {
        await phone.goto(path!)
        await rows(phone).first().waitFor()
        const width = await phone.evaluate<number>('document.documentElement.scrollWidth')
        t.ok(width <= PHONE.width, `${path}: nothing sticks out (${width} px)`)
        await snap(phone, `admin-${name}-phone`)
      }
      await phone.goto('/admin/jobs')
      await rows(phone).first().locator('[data-test=open-detail]').click()
      await phone.getByRole('dialog').locator('[data-test=detail-input]').waitFor()
      await snap(phone, 'admin-job-drawer-phone')
      await phone.keyboard.press('Escape')
      await phone.goto('/admin/users')
      await phone.locator('[data-test=new-user]').click()
      await phone.getByRole('dialog', { name: 'New user' }).waitFor()
      await snap(phone, 'admin-user-dialog-phone')
    })
  })
}
