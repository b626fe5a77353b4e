// Browser tests against the real app: the built client, the real API and job engine on a port, and
// Debian's Chromium driven by playwright-core (never a downloaded browser).
import { spawn } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { build, type Built } from '../helper.ts'

export const CHROMIUM = '/usr/bin/chromium'
export const hasChromium = (): boolean => existsSync(CHROMIUM)
export const NO_CHROMIUM = `needs Debian's Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`

const root = path.resolve(import.meta.dirname, '..', '..')
const client = path.join(root, 'client')
const dist = path.join(client, 'dist')

async function newestMtime(dir: string): Promise<number> {
  let newest = 0
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, (await fs.stat(path.join(entry.parentPath, entry.name))).mtimeMs)
  }
  return newest
}

async function isFresh(): Promise<boolean> {
  const index = path.join(dist, 'index.html')
  if (!existsSync(index)) return false
  const sources = Math.max(
    await newestMtime(path.join(client, 'src')),
    ...(await Promise.all(['index.html', 'vite.config.ts', 'tsconfig.json'].map(async (f) => (await fs.stat(path.join(client, f))).mtimeMs))),
  )
  return (await fs.stat(index)).mtimeMs >= sources
}

/**
 * Builds client/dist when it is missing or older than the sources. Test files run in parallel, so a
 * lock folder serialises builds, and the new build is moved into place in one rename.
 */
export async function ensureClientBuilt(): Promise<void> {
  if (await isFresh()) return
  const lock = path.join(os.tmpdir(), 'conveyor-client-build.lock')
  for (;;) {
    try {
      await fs.mkdir(lock)
      break
    } catch {
      const age = Date.now() - (await fs.stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs
      if (age > 120_000) await rm(lock, { recursive: true, force: true }) // left by a killed run
      await sleep(200)
    }
  }
  try {
    if (await isFresh()) return // another file built it while we waited
    const out = path.join(client, `.dist-${process.pid}`)
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(path.join(root, 'node_modules', '.bin', 'vite'),
        ['build', '--config', path.join(client, 'vite.config.ts'), '--logLevel', 'error', '--outDir', out, '--emptyOutDir'],
        { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
      child.on('error', reject)
      child.on('exit', (c) => resolve(c ?? 1))
    })
    if (code !== 0) throw new Error(`vite build failed (exit ${code})`)
    const old = `${dist}.old-${process.pid}`
    if (existsSync(dist)) await fs.rename(dist, old)
    await fs.rename(out, dist)
    await rm(old, { recursive: true, force: true })
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
}

export interface UiServer extends Built {
  /** http://127.0.0.1:<port> */
  origin: string
}

/** The real app with its job engine, listening on a free port (client built first: it reads index.html once). */
export async function startServer(t: Test, env: Record<string, string> = {}): Promise<UiServer> {
  await ensureClientBuilt()
  const media = await mkdtemp(path.join(os.tmpdir(), 'conveyor-ui-media-'))
  t.teardown(() => rm(media, { recursive: true, force: true }))
  const built = await build(t, { engine: true, env: { MEDIA_ROOT: media, ...env } })
  const address = await built.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...built, origin: address }
}

/** Chromium, closed when the test ends (teardowns run last-in first-out: before the app). */
export async function launchBrowser(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  return browser
}

/** A fresh browser profile on the server (no cookies unless `signedInAs`), closed with the test. */
export async function newPage(
  t: Test, browser: Browser, server: UiServer,
  options: { viewport?: { width: number; height: number }; signedInAs?: BrowserContext } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const viewport = options.viewport ?? { width: 1200, height: 900 }
  // UI_COLOR_SCHEME=dark: the same run with the dark theme, for looking at the screenshots.
  const colorScheme = process.env.UI_COLOR_SCHEME === 'dark' ? 'dark' : 'light'
  // signedInAs: start with that context's cookies (its session).
  const storageState = options.signedInAs ? await options.signedInAs.storageState() : undefined
  const context = await browser.newContext({ baseURL: server.origin, viewport, acceptDownloads: true, colorScheme, storageState })
  t.teardown(() => context.close())
  context.setDefaultTimeout(10_000)
  const page = await context.newPage()
  // A script error in the page fails the test that caused it.
  page.on('pageerror', (err) => t.fail(`page error: ${err.message}`))
  return { context, page }
}

/** Saves a full-page screenshot to /tmp/ui-<name>.png for a human to look at. */
export const snap = (page: Page, name: string) => page.screenshot({ path: `/tmp/ui-${name}.png`, fullPage: true })

export const GOOD_PASSWORD = 'correct horse battery staple'

/**
 * Waits until `expression` is truthy in the page. Unlike page.waitForFunction, which evaluates its
 * predicate with eval inside the page (refused by the CSP, rightly), each check is a DevTools
 * evaluation, which the page's CSP does not govern.
 */
export async function waitInPage(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${expression}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
