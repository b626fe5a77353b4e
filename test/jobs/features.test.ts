// The built-in features' building blocks, called directly: csv-profile's phases on awkward CSV
// (BOM, quoted newlines, ragged rows, a quote never closed), with progress and cancel, the distinct
// estimate, and text-stats; then a malformed CSV through the real engine.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { JobContext } from '../../worker/features/api.ts'
import csvProfile, { MAX_RECORD_CHARS } from '../../worker/features/csv-profile.ts'
import textStats from '../../worker/features/text-stats.ts'
import { HyperLogLog } from '../../worker/features/lib/hyperloglog.ts'
import { buildJobs, client, multipart } from './support.ts'

t.test('HyperLogLog estimates distinct counts within a few percent', async (t) => {
  for (const n of [10, 1000, 100_000]) {
    const hll = new HyperLogLog()
    for (let i = 0; i < n; i++) hll.add(`value-${i}`)
    for (let i = 0; i < n; i++) hll.add(`value-${i}`) // duplicates change nothing
    const error = Math.abs(hll.estimate() - n) / n
    t.ok(error < 0.05, `${n}: estimate ${hll.estimate()} (${(error * 100).toFixed(2)} % off)`)
  }
})

function context(dir: string, file: string, size: number, signal = new AbortController().signal, progress: number[] = []): JobContext {
  return {
    requestId: '00000000-0000-4000-8000-000000000000', feature: 'csv-profile', attempt: 1, signal,
    inputFile: { path: file, name: path.basename(file), size, content_type: 'text/csv' },
    workDir: dir, outputDir: dir, progress: (p) => progress.push(p), log: () => {}, db: null, mediaRoot: dir,
  }
}

/** Profiles `text` (given as bytes, so a BOM survives) through the feature's own phases. */
async function profile(t: Test, text: string | Buffer, input: Record<string, unknown> = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'csv-profile-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'data.csv')
  await writeFile(file, text)
  const ctx = context(dir, file, Buffer.byteLength(text))
  return csvProfile.process(await csvProfile.validate(input, ctx), ctx)
}
const byName = (out: { columns: { name: string }[] }) => Object.fromEntries(out.columns.map((c) => [c.name, c]))

t.test('csv-profile: a UTF-8 BOM is not part of the first column name', async (t) => {
  const out = await profile(t, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id;name\r\n1;Ann\r\n2;Bob\r\n')]))
  t.same(out.columns.map((c) => c.name), ['id', 'name'])
  t.match(byName(out).id, { type: 'integer', count: 2 })
})

t.test('csv-profile: quoted fields keep their delimiters, doubled quotes and line breaks', async (t) => {
  const out = await profile(t, 'id,note\n1,"one, two"\n2,"first line\r\nsecond ""quoted"" line"\n\n3,plain\n')
  t.equal(out.rows, 3, 'the quoted line break and the blank line start no row')
  t.match(byName(out).note, { count: 3, distinct: 3, max: 'plain', min: 'first line\r\nsecond "quoted" line' })
  t.match(byName(out).id, { type: 'integer', min: 1, max: 3 })
})

t.test('csv-profile: ragged rows are profiled, short ones as nulls and long ones in extra columns', async (t) => {
  const out = await profile(t, 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n')
  t.equal(out.rows, 3)
  t.same(out.columns.map((c) => c.name), ['a', 'b', 'c', 'column_4'])
  t.match(byName(out).c, { count: 2, nulls: 1 })
  t.match(byName(out).column_4, { count: 1, nulls: 0, min: 9 })
})

t.test('csv-profile: a quote never closed fails with the line its record starts on, at the record cap or at the end of the file', async (t) => {
  const lines = ['id,text', '1,fine', '2,"opened and never closed', ...Array.from({ length: 20_000 }, (_, i) => `${i + 3},${'x'.repeat(80)}`)]
  const text = lines.join('\n') + '\n'
  t.ok(text.length > MAX_RECORD_CHARS, 'the rest of the file is longer than the cap')
  await t.rejects(profile(t, text), { name: 'JobError', code: 'CSV_MALFORMED', message: /record starting on line 3 .*A quote is probably opened and never closed/ })
  await t.rejects(profile(t, 'id,text\n1,ok\n2,"short and unclosed\n3,end\n'), { name: 'JobError', message: 'The CSV file is malformed: a quote opened in the record starting on line 3 is never closed.' }, 'at the end of the file too')
})

t.test('csv-profile streams a large file: progress by bytes, a profile per column, and it honours cancel', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'csv-profile-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'data.csv')
  const lines = ['id,city,amount,flag']
  for (let i = 0; i < 60_000; i++) lines.push(`${i},"City ${i % 7}, Land",${(i % 100) / 4},${i % 2 === 0}`)
  const text = lines.join('\n') + '\n'
  await writeFile(file, text)
  const progress: number[] = []
  const ctx = context(dir, file, Buffer.byteLength(text), undefined, progress)
  const valid = await csvProfile.validate({}, ctx)
  t.equal(valid.delimiter, ',', 'delimiter sniffed')
  const out = await csvProfile.process(valid, ctx)
  t.equal(out.rows, 60_000)
  const [id, city, amount, flag] = out.columns
  t.match(id, { type: 'integer', distinct_exact: false, min: 0, max: 59_999 })
  t.ok(Math.abs(id!.distinct - 60_000) / 60_000 < 0.05, 'estimated distinct count')
  t.match(city, { type: 'string', distinct: 7, distinct_exact: true, top_values_exact: true })
  t.equal(city!.top_values[0]!.count, Math.ceil(60_000 / 7))
  t.match(amount, { type: 'float', min: 0, max: 24.75, mean: 12.375 })
  t.match(flag, { type: 'boolean' })
  t.ok(progress.length > 0 && progress.every((p, i) => i === 0 || p >= progress[i - 1]!), 'progress rises')
  t.equal(Math.round(progress.at(-1)!), 100)
  const saved = await csvProfile.save(out, ctx)
  t.equal((saved.data as any).report, 'profile.csv')
  t.match(await readFile(path.join(dir, 'profile.csv'), 'utf8'), /^name,type,count/)

  const controller = new AbortController()
  controller.abort(new Error('Cancelled.'))
  await t.rejects(async () => csvProfile.process(valid, context(dir, file, Buffer.byteLength(text), controller.signal)), /Cancelled/)
  const midway = new AbortController()
  const seen: number[] = []
  const cancelling = { ...context(dir, file, Buffer.byteLength(text), midway.signal), progress: (p: number) => { seen.push(p); midway.abort(new Error('Cancelled midway.')) } }
  await t.rejects(async () => csvProfile.process(valid, cancelling), /Cancelled midway/, 'a cancel during the stream stops it')
  t.ok(seen.length >= 1 && seen.at(-1)! < 100, 'before the end of the file')
})

t.test('text-stats counts words, sentences, lines and paragraphs', async (t) => {
  const ctx = context('/tmp', '/dev/null', 0)
  const valid = await textStats.validate({ text: 'Hello, world! Hello again...\n\nA new paragraph — with “quotes” and it’s fine.\n' }, { ...ctx, inputFile: null })
  const out = await textStats.process(valid, { ...ctx, inputFile: null })
  const { data } = await textStats.save(out, ctx)
  t.match(data, { words: 12, sentences: 3, lines: 3, paragraphs: 2, unique_words: 11, top_words: [{ word: 'hello', count: 2 }] })
})

t.test('extra feature files can be registered by path, next to the built-in ones', async (t) => {
  const { getFeature, loadFeatures, moduleUrls, registerFeatureModules } = await import('../../worker/features/registry.ts')
  const { TEST_FEATURES } = await import('./support.ts')
  t.notOk(moduleUrls().some((u) => u.endsWith('test-features.ts')))
  registerFeatureModules(TEST_FEATURES)
  const urls = moduleUrls()
  t.match(urls[0], /text-stats\.ts$/, 'built-in features first')
  t.ok(urls.some((u) => u.endsWith('/test/jobs/fixtures/test-features.ts')))
  await loadFeatures(urls)
  t.equal(getFeature('test-limited')?.timeLimitSeconds, 1)
})

t.test('a malformed CSV fails its job with the parser\'s line, at once and without a retry', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const csv = 'id,text\n1,fine\n2,"never closed\n' + 'x,'.repeat(MAX_RECORD_CHARS)
  const body = multipart({}, { name: 'broken.csv', content: csv, type: 'text/csv' })
  const created = await c.call('POST', '/api/v1/csv-profile/create/', body.payload, body.headers)
  t.equal(created.statusCode, 202)
  const done = await c.settle('csv-profile', created.data.id)
  t.match(done, { status: 'failed', attempts: 1, error_message: /^The CSV file is malformed: the record starting on line 3 is still not finished on line \d+ .*never closed\.$/ })
})

t.test('a result declaration is checked when the feature is defined', async (t) => {
  const { defineFeature } = await import('../../worker/features/api.ts')
  const { Type } = await import('@sinclair/typebox')
  const base = { name: 'x', title: 'X', description: '', input: Type.Object({}), validate: () => null, process: () => null, save: () => ({ data: {} }) }
  t.throws(() => defineFeature({ ...base, result: { view: [{ type: 'json' }], downloads: ['json', 'csv'] } }), /feature x: result.downloads: 'csv' needs toCsv\(\)/)
  t.throws(() => defineFeature({ ...base, result: { view: [{ type: 'json' }], downloads: ['csv'] }, toCsv: () => '' }), /'json' is always offered/)
  t.throws(() => defineFeature({ ...base, result: { view: [{ type: 'chart' } as never], downloads: ['json'] } }), /feature x: result.view.0: /)
  t.ok(defineFeature({ ...base, result: { view: [{ type: 'json', path: 'rows' }], downloads: ['json'] } }), 'a valid one passes')
})
