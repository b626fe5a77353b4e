// The built-in features' building blocks, called directly: the streaming CSV parser at every chunk
// boundary, the distinct estimate, and csv-profile's phases with progress and cancel.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import type { JobContext } from '../../worker/features/api.ts'
import csvProfile from '../../worker/features/csv-profile.ts'
import textStats from '../../worker/features/text-stats.ts'
import { CsvParser } from '../../worker/features/lib/csv-parser.ts'
import { HyperLogLog } from '../../worker/features/lib/hyperloglog.ts'

function parse(text: string, chunkSize: number, delimiter = ','): string[][] {
  const rows: string[][] = []
  const parser = new CsvParser(delimiter, (r) => rows.push(r))
  for (let i = 0; i < text.length; i += chunkSize) parser.push(text.slice(i, i + chunkSize))
  parser.end()
  return rows
}

t.test('the CSV parser gives the same rows whatever the chunk boundaries', async (t) => {
  const text = 'a,b,c\r\n1,"x, y",""\n"multi\r\nline","say ""hi""",3\n\n4,,\n"tail"x,5,"end"'
  const expected = [['a', 'b', 'c'], ['1', 'x, y', ''], ['multi\r\nline', 'say "hi"', '3'], ['4', '', ''], ['tailx', '5', 'end']]
  for (let size = 1; size <= text.length; size++) t.same(parse(text, size), expected, `chunks of ${size}`)
  t.same(parse('x;y\n1;2', 3, ';'), [['x', 'y'], ['1', '2']], 'other delimiters')
  t.same(parse('a,b,\n', 2), [['a', 'b', '']], 'a trailing empty field')
  t.same(parse('a,"unterminated\n', 4), [['a', 'unterminated\n']], 'an unterminated quote ends at EOF')
})

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
