// createsuperuser asks for the password without echoing it: on a real pseudo-terminal (util-linux
// `script`), and through the prompt function with a stand-in TTY.
import { spawn } from 'node:child_process'
import { PassThrough } from 'node:stream'
import t from 'tap'
import pg from 'pg'
import { askHidden, type PromptInput } from '../../server/prompt.ts'
import { verifyPassword } from '../../server/accounts/passwords.ts'
import { projectRoot } from '../../server/config.ts'
import { testDatabase } from '../helper.ts'

const SECRET = 'Zebra-Quartz-Marmalade-9931'

/** A stand-in terminal: a stream with isTTY and setRawMode, recording the modes asked for. */
function fakeTty(): { input: PromptInput & PassThrough; output: PassThrough; written: () => string; modes: boolean[] } {
  const modes: boolean[] = []
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (m: boolean) => { modes.push(m) } })
  const output = new PassThrough()
  let text = ''
  output.on('data', (c) => { text += String(c) })
  return { input, output, written: () => text, modes }
}

t.test('askHidden reads a line in raw mode and writes none of it back', async (t) => {
  const tty = fakeTty()
  const answer = askHidden('Password: ', tty.input, tty.output)
  tty.input.write('wrongx\u007f\u007f\u007f\u007f\u007f\u007f') // typed, then erased with backspace
  tty.input.write(`${SECRET.slice(0, 5)}\u001b[D`) // an arrow key is ignored
  tty.input.write(`${SECRET.slice(5)}\r`)
  t.equal(await answer, SECRET)
  t.same(tty.modes, [true, false], 'raw mode on while typing, off after')
  t.equal(tty.written(), 'Password: \n', 'only the question and a newline are written')
})

t.test('askHidden: Ctrl-C cancels and restores the terminal', async (t) => {
  const tty = fakeTty()
  const answer = askHidden('Password: ', tty.input, tty.output)
  tty.input.write('abc\u0003')
  await t.rejects(answer, /cancelled/)
  t.same(tty.modes, [true, false])
})

t.test('createsuperuser on a real terminal does not echo the password, and creates the superuser', async (t) => {
  const db = await testDatabase(t)
  const command = `${JSON.stringify(process.execPath)} server/cli.ts createsuperuser --email root@example.com`
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: db.url, LOG_LEVEL: 'warn', TERM: 'dumb' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let screen = ''
  const waiters: Array<{ text: string; resolve: () => void }> = []
  const onOutput = (chunk: Buffer) => {
    screen += chunk.toString()
    for (const w of waiters.splice(0)) if (screen.includes(w.text)) w.resolve(); else waiters.push(w)
  }
  child.stdout.on('data', onOutput)
  child.stderr.on('data', onOutput)
  const shown = (text: string) => new Promise<void>((resolve) => {
    if (screen.includes(text)) resolve(); else waiters.push({ text, resolve })
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  // Type only once the prompt is up: characters typed ahead are echoed by the terminal itself.
  await shown('Password: ')
  child.stdin.write(`${SECRET}\r`)
  await shown('Password (again): ')
  child.stdin.write(`${SECRET}\r`)
  const code = await exited
  t.equal(code, 0, screen)
  t.notOk(screen.includes(SECRET), 'the password never appears on the terminal')
  t.notOk(screen.includes(SECRET.slice(0, 6)), 'not even in part')
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  t.teardown(() => client.end())
  const { rows } = await client.query('SELECT password, is_superuser FROM users WHERE email = $1', ['root@example.com'])
  t.equal(rows[0]?.is_superuser, true)
  t.ok(await verifyPassword(SECRET, rows[0].password), 'the typed password was saved')
})
