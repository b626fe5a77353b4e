// Stored script is shown as text: a user's name and e-mail, a job's input echoed in its results, a
// CSV's column names and values. None runs; each is visible literally.
import path from 'node:path'
import t from 'tap'
import { createSession } from '../../server/accounts/sessions.ts'
import { api, userWithToken } from '../helper.ts'
import { settled, until } from '../jobs/support.ts'
import { hasChromium, NO_CHROMIUM, launchBrowser, newPage, snap, startServer } from './support.ts'

const UI_FEATURES = path.join(import.meta.dirname, 'fixtures', 'ui-features.ts')
const IMG = '<img src=x onerror=window.__xss=1>'
const SCRIPT = '<script>window.__xss=2</script>'
const SVG = '<svg onload=window.__xss=3>'

if (!hasChromium()) {
  t.test('browser tests', { skip: NO_CHROMIUM }, async () => {})
} else {
  t.test('stored script in names and job data is shown escaped, never run', async (t) => {
    const server = await startServer(t, { FEATURE_MODULES: UI_FEATURES })
    // Created in the database: the e-mail check at sign-up would refuse this address, an import might not.
    const email = '<img/src=x/onerror=window.__xss=4>@example.org'
    const { user, headers } = await userWithToken(server, { email, name: IMG })
    const session = await createSession(server.services.db, user.id, server.config.tokenTtlSeconds)
    const key = server.app.issueToken(session)

    const created = {
      demo: await api(server.app, { method: 'POST', url: '/api/v1/ui-demo/create/', headers, payload: { note: SCRIPT } }),
      text: await api(server.app, { method: 'POST', url: '/api/v1/text-stats/create/', headers, payload: { text: `${SCRIPT} ${IMG} plain words` } }),
      csv: await (async () => {
        const boundary = 'XSS'
        const csv = `"${IMG}",${SVG.replace(/,/g, ' ')}\n"${SCRIPT}",1\n"${SCRIPT}",2\n`
        const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${SVG}.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`
        return api(server.app, { method: 'POST', url: '/api/v1/csv-profile/create/', headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: body })
      })(),
    }
    for (const [what, res] of Object.entries(created)) t.equal(res.statusCode, 202, `${what} created`)
    for (const res of Object.values(created)) {
      const feature = res.data.feature as string
      const done = await settled(server.app, () => api(server.app, { method: 'GET', url: `/api/v1/${feature}/status/${res.data.id}/`, headers }), res.data.id, (r) => ['completed', 'failed'].includes(r.data.status))
      t.equal(done.data.status, 'completed', `${feature} completed`)
    }

    const browser = await launchBrowser(t)
    const { context, page } = await newPage(t, browser, server)
    await context.addCookies([{ name: 'conveyor_token', value: key, url: server.origin, httpOnly: true, sameSite: 'Strict' }])
    // Any dialog (alert, confirm) counts as script that ran.
    await context.addInitScript(() => {
      const w = globalThis as any
      w.__dialogs = 0
      for (const name of ['alert', 'confirm', 'prompt']) w[name] = () => { w.__dialogs++ }
    })
    const ran = () => page.evaluate(() => ({ xss: (globalThis as any).__xss ?? null, dialogs: (globalThis as any).__dialogs ?? 0 }))

    await page.goto('/')
    await page.locator('[data-test=who]').waitFor()
    t.equal(await page.locator('[data-test=who]').textContent(), email, 'the e-mail is shown as text in the header')
    t.same(await ran(), { xss: null, dialogs: 0 }, 'nothing ran on the dashboard')

    await page.goto(`/jobs/ui-demo/${created.demo.data.id}`)
    await page.locator('[data-test=json-result]').waitFor()
    t.match(await page.locator('[data-test=json-result]').textContent(), SCRIPT, 'the echoed input is visible, literally')
    t.same(await ran(), { xss: null, dialogs: 0 }, 'the echoed <script> did not run')

    await page.goto(`/jobs/text-stats/${created.text.data.id}`)
    await page.locator('[data-test=results]').waitFor()
    t.same(await ran(), { xss: null, dialogs: 0 }, 'the text-stats job page ran nothing')

    await page.goto(`/jobs/csv-profile/${created.csv.data.id}`)
    await page.locator('[data-test=results]').waitFor()
    await t.resolves(page.getByRole('rowheader', { name: IMG, exact: true }).waitFor(), 'a column named like an <img> tag is shown as its text')
    t.match(await page.locator('[data-test=results]').textContent(), SCRIPT, 'a value holding <script> is shown as text')
    t.equal(await page.locator('[data-test=results] img, [data-test=results] svg[onload], [data-test=results] script').count(), 0, 'no element was made from the data')
    t.same(await ran(), { xss: null, dialogs: 0 }, 'nothing from the CSV ran')
    await snap(page, 'xss-csv-profile')
  })
}
