// `npm test`: the type check, then every test file under tap against a real PostgreSQL:
// TEST_DATABASE_URL when given (CI points it at the machine's server), else an embedded one.
// Ends with one line "N passed, M failed, K skipped" (top-level subtests of every file, plus the
// type check); a skipped subtest is never counted as passed.
import { spawn } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Parser } from 'tap-parser'
import { startEmbeddedPostgres } from '../db/embedded.ts'
import { createTemplate, adminQuery } from './setup/database.ts'
import { BUNDLED_DEPS_ENV, prepareBundledDeps } from './setup/bundled-deps.ts'

const root = path.resolve(import.meta.dirname, '..')
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name)
const log = { info: (m: string) => console.log(`# ${m}`), warn: (m: string) => console.log(`# ${m}`) }

// Children (tap and the test files) run on this Node (24, the dev dependency) even when started
// without npm, which is what puts node_modules/.bin first on PATH.
process.env.PATH = `${path.join(root, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`
// V8's code cache on disk for every test process and its worker threads (the directory Conveyor's
// own CLI uses, so the instances tests start share it): a module is compiled, and a .ts file
// type-stripped, once per run instead of once per process and thread. Measured on
// test/jobs/failures.test.ts (16 threads): the threads' CPU 9.1 -> 7.5 s.
process.env.NODE_COMPILE_CACHE ??= path.join(os.tmpdir(), 'node-compile-cache')

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env, cwd: root })
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
  })
}

/**
 * tap starts the test files with the preloads of the plugin set it was last built with, and only
 * rebuilds for the configured set (package.json `tap.plugin`) during that run. After `npm ci`,
 * which installs tap built with every default plugin, the first run therefore loaded
 * @tapjs/typescript's ts-node loader and @tapjs/mock's hooks into every test process: measured on
 * test/jobs/failures.test.ts in a fresh clone, 16.9 s instead of 6.0 s, and the whole suite took
 * twice as long. So tap is rebuilt first (`tap build`, ~3 s) whenever its version or the
 * configured plugins differ from the last build's, which a marker records.
 */
async function ensureTapBuilt(): Promise<void> {
  const readJson = async (file: string) => JSON.parse(await fs.readFile(file, 'utf8')) as { version?: string; tap?: { plugin?: string[] } }
  const wanted = JSON.stringify({
    tap: (await readJson(path.join(root, 'node_modules', 'tap', 'package.json'))).version,
    plugin: (await readJson(path.join(root, 'package.json'))).tap?.plugin ?? [],
  })
  const marker = path.join(root, 'node_modules', '.cache', 'conveyor-tap-build.json')
  if ((await fs.readFile(marker, 'utf8').catch(() => '')) === wanted) return
  console.log('# building tap for the configured plugins (tap build)')
  if ((await run(bin('tap'), ['build'])) !== 0) throw new Error('tap build failed')
  await fs.mkdir(path.dirname(marker), { recursive: true })
  await fs.writeFile(marker, wanted)
}

/** The test files tap runs for these arguments (files or folders; none: every test file). */
async function testFiles(args: string[]): Promise<string[]> {
  const roots = args.length > 0 ? args : ['test']
  const found: string[] = []
  for (const r of roots) {
    const stat = await fs.stat(path.resolve(root, r))
    if (stat.isFile()) found.push(path.relative(root, path.resolve(root, r)))
    else for (const f of await fs.readdir(path.resolve(root, r), { recursive: true })) {
      if (f.endsWith('.test.ts')) found.push(path.relative(root, path.resolve(root, r, f)))
    }
  }
  return found
}

/**
 * The environment that makes the run's processes import the bundled dependencies
 * (test/setup/bundled-deps.ts); if they cannot be made (a read-only node_modules, say), the run
 * goes on with the installed packages, only slower, and says so.
 */
async function bundledDeps(): Promise<NodeJS.ProcessEnv> {
  try {
    const map = await prepareBundledDeps(root)
    const hook = pathToFileURL(path.join(root, 'test', 'setup', 'bundled-deps-hook.mjs')).href
    return { [BUNDLED_DEPS_ENV]: JSON.stringify(map), NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${JSON.stringify(hook)}`.trim() }
  } catch (err) {
    console.log(`# the dependencies could not be bundled for the run (${(err as Error).message}): the tests import the installed ones`)
    return {}
  }
}

interface Totals { pass: number; fail: number; skip: number; kept: string[] }

/**
 * Counts the top-level subtests in each file's saved TAP: a skipped one is counted apart, never as
 * passed; a file without fresh results failed. Also collects the databases kept for failed tests.
 */
async function countResults(dir: string, files: string[], since: number): Promise<Totals> {
  const totals: Totals = { pass: 0, fail: 0, skip: 0, kept: [] }
  for (const f of files) {
    const saved = path.join(dir, `${f}.tap`)
    if (!existsSync(saved) || (await fs.stat(saved)).mtimeMs < since) {
      console.log(`# no results from ${f}`)
      totals.fail++
      continue
    }
    const text = await fs.readFile(saved, 'utf8')
    const result = await new Promise<{ pass: number; fail: number; skip: number; todo: number }>((resolve) => {
      const parser = new Parser((r) => resolve({ pass: r.pass, fail: r.fail, skip: r.skip, todo: r.todo }))
      parser.end(text)
    })
    // tap counts a skipped (or todo) subtest as "ok": take it out of the passes.
    totals.pass += result.pass - result.skip - result.todo
    totals.fail += result.fail
    totals.skip += result.skip + result.todo
    for (const m of text.matchAll(/^\s*# (kept database .*)$/gm)) totals.kept.push(`${f}: ${m[1]}`)
  }
  return totals
}

async function main(): Promise<number> {
  const files = process.argv.slice(2)
  let passed = 0
  let failed = 0
  let skipped = 0
  let kept: string[] = []
  if (files.length === 0) {
    console.log('# type check (server: tsc, client: vue-tsc)')
    const ok = (await run(bin('tsc'), ['-p', '.'])) === 0 && (await run(bin('vue-tsc'), ['-p', 'client/tsconfig.json'])) === 0
    if (ok) passed++; else failed++
    console.log(`# type check ${ok ? 'passed' : 'FAILED'}`)
  }

  let adminUrl = process.env.TEST_DATABASE_URL
  const embedded = adminUrl ? null : await startEmbeddedPostgres(path.join(root, '.data', 'test-postgres'), 54330, log, { durable: false })
  adminUrl ??= embedded!.url
  const template = `conveyor_tpl_${process.pid}`
  try {
    await createTemplate(adminUrl, template)
    const resultsDir = path.join(root, '.tap', 'test-results')
    await ensureTapBuilt()
    const started = Date.now()
    const selected = await testFiles(files)
    const code = await run(bin('tap'), files.length > 0 ? selected : [], {
      ...process.env,
      CONVEYOR_TEST_ADMIN_URL: adminUrl,
      CONVEYOR_TEST_TEMPLATE: template,
      ...await bundledDeps(),
    })
    const counted = await countResults(resultsDir, selected, started)
    passed += counted.pass
    failed += counted.fail
    skipped += counted.skip
    kept = counted.kept
    if (code !== 0 && counted.fail === 0) failed++ // a file crashed outside any subtest
  } finally {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`).catch(() => {})
    await embedded?.stop()
  }
  for (const line of kept) console.log(`# ${line}`)
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
  return failed === 0 ? 0 : 1
}

main().then((code) => { process.exitCode = code }, (err) => {
  console.error(err)
  console.log('0 passed, 1 failed, 0 skipped')
  process.exitCode = 1
})
