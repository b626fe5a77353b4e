// A typed client generated from /api/schema/ (openapi-typescript for the types, openapi-fetch at
// runtime) type-checks, and runs the README's curl walk-through against a real listening app:
// register, log in, create a text-stats request, follow it live, read its results, log out.
import { spawn } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import openapiTS, { astToString } from 'openapi-typescript'
import { projectRoot } from '../../server/config.ts'
import { build } from '../helper.ts'

// Inside the project, so that the generated files resolve `openapi-fetch` from its node_modules.
const dir = path.join(projectRoot, '.tap', `generated-client-${process.pid}`)
await mkdir(dir, { recursive: true })
t.teardown(() => rm(dir, { recursive: true, force: true }))

const { app } = await build(t, { engine: true })
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`

/** tsc on the given files, strict, as a project of its own (the generated types need no other). */
async function typeCheck(files: string[]): Promise<{ code: number; output: string }> {
  const tsc = path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  const child = spawn(process.execPath, [
    tsc, '--noEmit', '--strict', '--target', 'es2024', '--lib', 'es2024', '--noUncheckedIndexedAccess', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--allowImportingTsExtensions', '--erasableSyntaxOnly', '--verbatimModuleSyntax', '--skipLibCheck', '--types', 'node', ...files,
  ], { cwd: dir })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  return { code, output }
}

// The README's walk-through, written as a client program would be: every call typed by the
// generated `paths`, so a route that changes its contract breaks the type check first.
const WALK_THROUGH = `
import createClient from 'openapi-fetch'
import type { paths } from './api.ts'

/** The statuses an events/ stream sends (its \`event: status\` frames, not its log lines), until it ends after a terminal one. */
async function follow(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const seen: string[] = []
  let buffer = ''
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk
    for (let end = buffer.indexOf('\\n\\n'); end >= 0; end = buffer.indexOf('\\n\\n')) {
      const lines = buffer.slice(0, end).split('\\n')
      buffer = buffer.slice(end + 2)
      const data = lines.find((line) => line.startsWith('data:'))
      if (data && lines.includes('event: status')) seen.push((JSON.parse(data.slice(5)) as { status: string }).status)
    }
  }
  return seen
}

export async function walkThrough(baseUrl: string, email: string, password: string) {
  const anonymous = createClient<paths>({ baseUrl })
  const registered = await anonymous.POST('/api/v1/auth/registration/', {
    body: { email, password1: password, password2: password, name: 'Ada' },
  })
  const wrong = await anonymous.POST('/api/v1/auth/login/', { body: { email, password: 'not the password' } })
  const refused = wrong.error && 'non_field_errors' in wrong.error ? wrong.error.non_field_errors : undefined
  const login = await anonymous.POST('/api/v1/auth/login/', { body: { email, password } })
  if (!login.data) throw new Error(\`login failed: \${JSON.stringify(login.error)}\`)
  const key: string = login.data.key
  const client = createClient<paths>({ baseUrl, headers: { Authorization: \`Bearer \${key}\` } })
  const me = await client.GET('/api/v1/auth/user/')

  const created = await client.POST('/api/v1/text-stats/create/', { body: { text: 'Hello world. Hello again.' } })
  if (!created.data) throw new Error(\`create failed: \${JSON.stringify(created.error)}\`)
  const id: string = created.data.id
  const path = { id }
  const events = await client.GET('/api/v1/text-stats/events/{id}/', { params: { path }, parseAs: 'stream' })
  if (!events.data) throw new Error(\`events failed: \${events.response.status}\`)
  const followed = await follow(events.data)
  const status = await client.GET('/api/v1/text-stats/status/{id}/', { params: { path } })
  const results = await client.GET('/api/v1/text-stats/results/{id}/', { params: { path } })

  const logout = await client.POST('/api/v1/auth/logout/')
  const afterLogout = await client.GET('/api/v1/auth/user/')
  return {
    registered: { status: registered.response.status, key: registered.data?.key },
    wrongPassword: { status: wrong.response.status, refused },
    login: { status: login.response.status, email: login.data.user.email },
    me: { status: me.response.status, name: me.data?.name, pk: me.data?.pk },
    created: { status: created.response.status, location: created.response.headers.get('location'), body: created.data },
    followed,
    status: status.data?.status,
    results: { status: results.response.status, data: results.data?.data, files: results.data?.files },
    logout: logout.data?.detail,
    afterLogout: { status: afterLogout.response.status, detail: afterLogout.error?.detail },
  }
}
`

// Calls the document does not allow: each line must be a type error.
const WRONG = `
import createClient from 'openapi-fetch'
import type { paths } from './api.ts'

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1' })
await client.POST('/api/v1/auth/login/', { body: { email: 'ada@example.com' } }) // no password
await client.GET('/api/v1/no-such-route/')
await client.GET('/api/v1/text-stats/status/{id}/') // no id
const user = await client.GET('/api/v1/auth/user/')
const pk: string | undefined = user.data?.pk // an integer
export { pk }
`

t.test('openapi-typescript generates the types from /api/schema/ of the running app', async (t) => {
  const ast = await openapiTS(new URL('/api/schema/', baseUrl))
  const types = astToString(ast)
  await writeFile(path.join(dir, 'api.ts'), types)
  for (const id of ['authRegistrationCreate', 'authLoginCreate', 'textStatsCreate', 'textStatsStatusRetrieve', 'textStatsResultsRetrieve']) {
    t.match(types, new RegExp(`\\b${id}: \\{`), `operation ${id}`)
  }
  t.match(types, /ValidationError: \{/, 'the error shapes are components')
})

t.test('the walk-through client type-checks against the generated types', async (t) => {
  await writeFile(path.join(dir, 'walk-through.ts'), WALK_THROUGH)
  const result = await typeCheck(['walk-through.ts'])
  t.equal(result.code, 0, 'tsc accepts it', { output: result.output })
})

t.test('the type checker rejects calls the document does not allow', async (t) => {
  await writeFile(path.join(dir, 'wrong.ts'), WRONG)
  const result = await typeCheck(['wrong.ts'])
  t.not(result.code, 0, 'tsc refuses it')
  const lines = [...result.output.matchAll(/wrong\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1]))
  t.same([...new Set(lines)].sort((a, b) => a - b), [6, 7, 8, 10], 'one error on each wrong call', { output: result.output })
})

t.test('the README walk-through runs with openapi-fetch against the real server', async (t) => {
  const { walkThrough } = await import(path.join(dir, 'walk-through.ts')) as { walkThrough: (baseUrl: string, email: string, password: string) => Promise<any> }
  const r = await walkThrough(baseUrl, 'ada@example.com', 'correct horse battery staple')
  t.match(r.registered, { status: 201, key: String }, 'registered: 201 with a key')
  t.same(r.wrongPassword, { status: 400, refused: ['Unable to log in with provided credentials.'] }, 'a wrong password: 400 non_field_errors')
  t.same(r.login, { status: 200, email: 'ada@example.com' }, 'logged in')
  t.match(r.me, { status: 200, name: 'Ada', pk: Number }, 'the user')
  t.match(r.created, { status: 202, body: { feature: 'text-stats', status: 'pending' } }, 'created: 202 pending')
  t.equal(r.created.location, `/api/v1/text-stats/status/${r.created.body.id}/`, 'Location is the status URL')
  t.equal(r.followed.at(-1), 'completed', `followed live to completion: ${r.followed.join(' → ')}`)
  t.equal(r.status, 'completed')
  t.match(r.results, { status: 200, data: { words: 4, sentences: 2, top_words: [{ word: 'hello', count: 2 }] }, files: [] }, 'the results')
  t.equal(r.logout, 'Successfully logged out.')
  t.same(r.afterLogout, { status: 401, detail: 'Invalid token.' }, 'the key stops working')
})
