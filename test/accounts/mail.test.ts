// Outgoing e-mail: SMTP when SMTP_URL is set, the log otherwise; the templates.
import t from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import { createMailer } from '../../server/mail/mailer.ts'
import { describeDuration, passwordResetEmail, verificationEmail } from '../../server/mail/templates.ts'
import { startSmtpSink } from '../support/smtp-sink.ts'

function capturingLog() {
  const lines: Array<{ level: string; obj: unknown; msg: string }> = []
  const log = {
    info: (obj: unknown, msg: string) => lines.push({ level: 'info', obj, msg }),
    error: (obj: unknown, msg: string) => lines.push({ level: 'error', obj, msg }),
  } as unknown as FastifyBaseLogger
  return { log, lines }
}

const from = 'Conveyor <noreply@localhost>'

t.test('the log backend in development writes the message, links included, to the log, and sends nothing', async (t) => {
  const { log, lines } = capturingLog()
  const mailer = createMailer({ env: 'development', emailBackend: 'log', smtpUrl: null, defaultFromEmail: from }, log)
  mailer.send(verificationEmail({ email: 'dev@example.com', name: 'Dev' }, 'http://localhost:5173/verify-email/abc', '3 days'))
  await mailer.close()
  t.equal(lines.length, 1)
  t.equal(lines[0]!.level, 'info')
  t.match(lines[0]!.msg, /not sent: log backend/)
  t.match(lines[0]!.msg, 'http://localhost:5173/verify-email/abc')
  t.same(lines[0]!.obj, { mail: { to: 'dev@example.com', subject: '[Conveyor] Confirm your e-mail address' } })
})

t.test('the log backend outside development logs only recipient and subject: never the link or its token', async (t) => {
  for (const env of ['production', 'test'] as const) {
    const { log, lines } = capturingLog()
    const mailer = createMailer({ env, emailBackend: 'log', smtpUrl: null, defaultFromEmail: from }, log)
    mailer.send(passwordResetEmail({ email: 'user@example.com', name: '' }, 'https://app.example.org/password-reset/1/secret-token', '3 days'))
    await mailer.close()
    t.equal(lines.length, 1, env)
    t.same(lines[0]!.obj, { mail: { to: 'user@example.com', subject: '[Conveyor] Password reset' } }, env)
    t.notMatch(JSON.stringify(lines), /secret-token|password-reset\//, `${env}: no link, no token`)
  }
})

t.test('with SMTP_URL a message is delivered over SMTP, from DEFAULT_FROM_EMAIL, as text and HTML', async (t) => {
  const sink = await startSmtpSink()
  t.teardown(() => sink.close())
  const { log } = capturingLog()
  const mailer = createMailer({ env: 'production', emailBackend: 'smtp', smtpUrl: sink.url, defaultFromEmail: 'Ops <ops@example.org>' }, log)
  mailer.send(passwordResetEmail({ email: 'user@example.com', name: '' }, 'https://app.example.org/password-reset/1/abc-def', '3 days'))
  await mailer.close()
  t.equal(sink.messages.length, 1)
  const mail = sink.messages[0]!
  t.equal(mail.from, 'ops@example.org')
  t.same(mail.to, ['user@example.com'])
  t.match(mail.text, /^Hello,\n/)
  t.match(mail.text, 'https://app.example.org/password-reset/1/abc-def')
  t.match(mail.html, 'href="https://app.example.org/password-reset/1/abc-def"')
})

t.test('a failed delivery is logged, never thrown at the request', async (t) => {
  const { log, lines } = capturingLog()
  const mailer = createMailer({ env: 'test', emailBackend: 'smtp', smtpUrl: 'smtp://127.0.0.1:1', defaultFromEmail: 'x@example.org' }, log)
  t.doesNotThrow(() => mailer.send(verificationEmail({ email: 'a@example.com', name: '' }, 'http://x/verify-email/k', '1 day')))
  await mailer.close()
  t.equal(lines[0]?.level, 'error')
})

t.test('templates escape the user\'s name in HTML and say how long the link works', async (t) => {
  const mail = verificationEmail({ email: 'a@example.com', name: '<script>alert(1)</script>' }, 'https://x/verify-email/k?a=1&b=2', describeDuration(3 * 86_400))
  t.notMatch(mail.html, '<script>')
  t.match(mail.html, '&lt;script&gt;')
  t.match(mail.html, 'href="https://x/verify-email/k?a=1&amp;b=2"')
  t.match(mail.text, 'it works for 3 days')
  t.equal(describeDuration(86_400), '1 day')
  t.equal(describeDuration(7200), '2 hours')
})
