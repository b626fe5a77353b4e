// The result-view reader, fed the real features' declarations as GET /api/v1/features/ sends them
// and result documents shaped as their save() writes them.
import t from 'tap'
import { resultOf } from '../../worker/features/result-view.ts'
import csvProfile from '../../worker/features/csv-profile.ts'
import textStats from '../../worker/features/text-stats.ts'
import { at, barWidth, formatValue, isNumeric, rowsAt, type ResultBlock, type TableBlock } from '../../client/src/lib/result-view.ts'

const wire = (feature: Parameters<typeof resultOf>[0]) => JSON.parse(JSON.stringify(resultOf(feature).view)) as ResultBlock[]
const table = (blocks: ResultBlock[]) => blocks.find((b): b is TableBlock => b.type === 'table')!

t.test('paths reach into objects and arrays, and lead nowhere quietly', async (t) => {
  const doc = { a: { b: [10, { c: 'x' }] } }
  t.equal(at(doc, 'a.b.1.c'), 'x')
  t.equal(at(doc, ''), doc, "'' is the whole document")
  t.equal(at(doc, 'a.missing.deeper'), undefined)
  t.same(rowsAt(doc, 'a.b'), [10, { c: 'x' }])
  t.same(rowsAt(doc, 'a'), [], 'not an array: no rows')
})

t.test('text-stats: tiles with grouped numbers and a duration; top words ranked with shares and bars', async (t) => {
  const blocks = wire(textStats)
  const doc = { words: 2000, characters: 12345, reading_time_seconds: 125, average_word_length: 4.5, top_words: [{ word: 'the', count: 100 }, { word: 'fox', count: 25 }] }
  const summary = blocks[0]!
  if (summary.type !== 'summary') throw new Error('summary first')
  const tile = (label: string) => formatValue(summary.items.find((i) => i.label === label)!, { scope: doc, doc })
  t.equal(tile('Words'), '2,000')
  t.equal(tile('Characters'), '12,345')
  t.equal(tile('Reading time'), '2 min 5 s')
  t.equal(tile('Avg. word length'), '4.5')
  const top = table(blocks)
  const rows = rowsAt(doc, top.rows)
  const cells = rows.map((row, index) => top.columns.map((c) => formatValue(c, { scope: row, doc, index })))
  t.same(cells, [['1', 'the', '100', '5.0%', ''], ['2', 'fox', '25', '1.3%', '']])
  const bar = top.columns.find((c) => c.format === 'bar')!
  t.same(rows.map((r) => barWidth(bar, rows, r)), ['100%', '25%'], 'bars relative to the largest count')
  t.same(top.columns.map(isNumeric), [true, false, true, true, false])
  t.equal(top.empty, 'The text has no words.')
})

t.test('csv-profile: the delimiter by name, sizes, estimates marked, nulls as a dash, top values as pairs', async (t) => {
  const blocks = wire(csvProfile)
  const doc = {
    rows: 1234, column_count: 2, bytes: 2048, delimiter: '\t',
    columns: [
      { name: 'id', type: 'integer', count: 1234, nulls: 0, distinct: 1230, distinct_exact: false, min: 1, max: 1234, mean: 617.5, stddev: 356.4, top_values: [{ value: '7', count: 2 }, { value: '9', count: 1 }] },
      { name: 'note', type: 'string', count: 0, nulls: 1234, distinct: 0, distinct_exact: true, min: null, max: null, mean: null, stddev: null, top_values: [] },
    ],
  }
  const summary = blocks[0]!
  if (summary.type !== 'summary') throw new Error('summary first')
  t.same(summary.items.map((i) => formatValue(i, { scope: doc, doc })), ['1,234', '2', '2.0 KB', 'Tab'])
  const columns = table(blocks)
  const cells = rowsAt(doc, columns.rows).map((row, index) => columns.columns.map((c) => formatValue(c, { scope: row, doc, index })))
  t.same(cells[0], ['id', 'integer', '1,234', '0', '≈1,230', '1', '1,234', '617.5', '356.4', '7 (2), 9 (1)'])
  t.same(cells[1], ['note', 'string', '0', '1,234', '0', '—', '—', '—', '—', '—'])
  t.ok(columns.columns[0]!.header, 'the column name heads its row')
})

t.test('a feature without a declaration is shown as JSON, and a list block writes each item', async (t) => {
  t.same(resultOf({}).view, [{ type: 'json' }])
  const list = { type: 'list', title: 'Words', items: 'words' } as const
  t.same(rowsAt({ words: ['a', 1, null] }, list.items).map((item, index) => formatValue({ label: '' }, { scope: item, doc: {}, index })), ['a', '1', '—'])
})
