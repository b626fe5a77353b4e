// Outgoing e-mail: SMTP through nodemailer when SMTP_URL is set; otherwise (development, tests
// without a sink) each message is written to the log instead of being sent.
import fp from 'fastify-plugin'
import type { Transporter } from 'nodemailer'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.ts'

export interface Mail {
  to: string
  subject: string
  text: string
  html: string
}

export interface Mailer {
  /**
   * Queues a message and returns at once: a request never waits for SMTP, so answering "sent" for an
   * address that has an account takes as long as for one that has none. Failures are logged.
   */
  send(mail: Mail): void
  /** Resolves once every message handed to send() has been delivered or has failed. */
  idle(): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    mailer: Mailer
  }
}

export function createMailer(config: Pick<Config, 'smtpUrl' | 'defaultFromEmail'>, log: FastifyBaseLogger): Mailer & { close(): Promise<void> } {
  // nodemailer is imported with the first message, not at start-up: it costs about 13 MB and
  // 200 ms of start-up to import, and most processes (workers, instances nobody signs up on) send none.
  let transport: Promise<Transporter> | null = null
  const transporter = () => (transport ??= import('nodemailer').then(({ default: nodemailer }) => config.smtpUrl
    ? nodemailer.createTransport(config.smtpUrl)
    : nodemailer.createTransport({ jsonTransport: true })))
  const pending = new Set<Promise<void>>()

  async function deliver(mail: Mail): Promise<void> {
    try {
      const info = await (await transporter()).sendMail({ from: config.defaultFromEmail, ...mail })
      if (config.smtpUrl) log.info({ mail: { to: mail.to, subject: mail.subject, id: info.messageId } }, 'e-mail sent')
      else log.info({ mail: { to: mail.to, subject: mail.subject } }, `e-mail (not sent: SMTP_URL is not set)\n${mail.text}`)
    } catch (err) {
      log.error({ err, mail: { to: mail.to, subject: mail.subject } }, 'e-mail could not be sent')
    }
  }

  return {
    send(mail) {
      const p = deliver(mail).finally(() => pending.delete(p))
      pending.add(p)
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending])
    },
    async close() {
      await this.idle()
      if (transport) (await transport).close()
    },
  }
}

export default fp(async (app) => {
  const mailer = createMailer(app.config, app.log)
  app.decorate('mailer', mailer)
  app.addHook('onClose', async () => mailer.close())
}, { name: 'mailer' })
