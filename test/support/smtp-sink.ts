// A real SMTP server on loopback that keeps every message it receives, for tests that send e-mail.
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { SMTPServer } from 'smtp-server'
import { simpleParser } from 'mailparser'

export interface ReceivedMail {
  from: string
  to: string[]
  subject: string
  text: string
  html: string
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`: give it to the app as SMTP_URL. */
  url: string
  messages: ReceivedMail[]
  /** The first message (in arrival order) matching `match`, waiting up to `timeoutMs` for it. */
  waitFor(match: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>
  /** Messages addressed to `address`. */
  to(address: string): ReceivedMail[]
  close(): Promise<void>
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedMail[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'], // plain loopback: nodemailer must not try to upgrade
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then((mail) => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: mail.subject ?? '',
          text: mail.text ?? '',
          html: typeof mail.html === 'string' ? mail.html : '',
        })
        callback()
      }, (err: Error) => callback(err))
    },
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.server.address() as AddressInfo

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async waitFor(match, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = messages.find(match)
        if (found) return found
        if (Date.now() > deadline) throw new Error(`no matching e-mail within ${timeoutMs} ms (received ${messages.length})`)
        await sleep(10)
      }
    },
    to(address) {
      return messages.filter((m) => m.to.some((a) => a.toLowerCase() === address.toLowerCase()))
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
