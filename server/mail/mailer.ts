// Outgoing e-mail: SMTP through nodemailer (EMAIL_BACKEND smtp, SMTP_URL set), or the log backend,
// which sends nothing. The log backend prints a message's text (its links, with their tokens) only
// in development, where it stands in for a mailbox; in production it logs recipient and subject only.
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

export type MailerConfig = Pick<Config, 'env' | 'emailBackend' | 'smtpUrl' | 'defaultFromEmail'>

export function createMailer(config: MailerConfig, log: FastifyBaseLogger): Mailer & { close(): Promise<void> } {
  const smtp = config.emailBackend === 'smtp' && config.smtpUrl ? config.smtpUrl : null
  // nodemailer is imported with the first message, not at start-up: it costs about 13 MB and
  // 200 ms of start-up to import, and most processes (workers, instances nobody signs up on) send none.
  let transport: Promise<Transporter> | null = null
  const transporter = () => (transport ??= import('nodemailer').then(({ default: nodemailer }) => smtp
    ? nodemailer.createTransport(smtp)
    : nodemailer.createTransport({ jsonTransport: true })))
  // Only a developer's own machine may see the links (and so the tokens) a message carries.
  const showText = config.env === 'development'
  const pending = new Set<Promise<void>>()

  async function deliver(mail: Mail): Promise<void> {
    try {
      const info = await (await transporter()).sendMail({ from: config.defaultFromEmail, ...mail })
      if (smtp) log.info({ mail: { to: mail.to, subject: mail.subject, id: info.messageId } }, 'e-mail sent')
      else if (showText) log.info({ mail: { to: mail.to, subject: mail.subject } }, `e-mail (not sent: log backend)\n${mail.text}`)
      else log.info({ mail: { to: mail.to, subject: mail.subject } }, 'e-mail not sent (log backend): its text is not logged')
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
