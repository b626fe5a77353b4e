// The new-job form's generator, fed the real features' input schemas as the API sends them.
import t from 'tap'
import textStats from '../../worker/features/text-stats.ts'
import csvProfile from '../../worker/features/csv-profile.ts'
import { initialValues, schemaFields, toInput, type JsonSchema } from '../../client/src/lib/schema-fields.ts'

const wire = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as JsonSchema

t.test('text-stats: a textarea for the text, number inputs with their bounds and defaults', async (t) => {
  const fields = schemaFields(wire(textStats.input))
  t.match(fields, [
    { name: 'text', kind: 'textarea', label: 'Text', required: false, initial: '' },
    { name: 'top_n', kind: 'integer', label: 'Top n', min: 1, max: 100, initial: '10', hint: 'How many top words' },
    { name: 'words_per_minute', kind: 'integer', min: 50, max: 1000, initial: '200' },
  ])
})

t.test('csv-profile: a union of literals is a choice, a boolean a checkbox with its default', async (t) => {
  const fields = schemaFields(wire(csvProfile.input))
  const delimiter = fields.find((f) => f.name === 'delimiter')!
  t.equal(delimiter.kind, 'choice')
  t.same(delimiter.options!.map((o) => o.value), [',', ';', '\t', '|'])
  t.equal(delimiter.options![2]!.label, 'Tab')
  t.match(fields.find((f) => f.name === 'has_header'), { kind: 'boolean', initial: true })
  t.match(fields.find((f) => f.name === 'report_format'), { kind: 'choice', initial: 'csv' })
})

t.test('the input leaves out empty optional fields and types what the form holds as text', async (t) => {
  const fields = schemaFields({
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string', maxLength: 40 },
      count: { type: 'integer' },
      ratio: { type: 'number' },
      level: { anyOf: [{ const: 1 }, { const: 2 }] },
      loud: { type: 'boolean' },
      extra: { type: 'string', maxLength: 40 },
    },
  })
  t.equal(fields.find((f) => f.name === 'name')!.kind, 'text', 'a short string is a one-line input')
  const values = { ...initialValues(fields), name: 'x', count: 3, ratio: '0.5', level: '2', extra: '   ' }
  t.same(toInput(fields, values), { name: 'x', count: 3, ratio: 0.5, level: 2, loud: false })
  t.same(toInput(fields, { ...values, count: '', ratio: 'abc' }), { name: 'x', ratio: 'abc', level: 2, loud: false },
    'text that is not a number goes as typed, for the server to name the problem')
})
