// The messages Conveyor sends, each as plain text plus a simple HTML version.
import type { Mail } from './mailer.ts'

const SITE = 'Conveyor'

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')

function html(greeting: string, paragraphs: string[], link: string, action: string): string {
  const body = paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')
  return `<!doctype html>
<html><body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1f2328">
<p>${escapeHtml(greeting)}</p>
${body}
<p><a href="${escapeHtml(link)}" style="display: inline-block; padding: 8px 16px; background: #0969da; color: #fff; border-radius: 6px; text-decoration: none">${escapeHtml(action)}</a></p>
<p style="font-size: 13px; color: #59636e">Or open this link: ${escapeHtml(link)}</p>
<p>— ${SITE}</p>
</body></html>`
}

/** "3 days", "1 day", "12 hours": how long a link stays valid, for the message. */
export function describeDuration(seconds: number): string {
  const [n, unit] = seconds % 86_400 === 0 ? [seconds / 86_400, 'day'] : [Math.max(1, Math.round(seconds / 3600)), 'hour']
  return `${n} ${unit}${n === 1 ? '' : 's'}`
}

const greeting = (name: string) => (name ? `Hello ${name},` : 'Hello,')

export function verificationEmail(to: { email: string; name: string }, link: string, validFor: string): Mail {
  const lines = [
    `Someone, probably you, signed up to ${SITE} with this e-mail address.`,
    `To confirm that it is yours, open the link below (it works for ${validFor}).`,
    'If it was not you, ignore this message.',
  ]
  return {
    to: to.email,
    subject: `[${SITE}] Confirm your e-mail address`,
    text: `${greeting(to.name)}\n\n${lines[0]}\n${lines[1]}\n\n${link}\n\n${lines[2]}\n\n— ${SITE}\n`,
    html: html(greeting(to.name), lines, link, 'Confirm e-mail address'),
  }
}

export function passwordResetEmail(to: { email: string; name: string }, link: string, validFor: string): Mail {
  const lines = [
    `You (or someone else) asked to reset the password of your ${SITE} account.`,
    `To choose a new password, open the link below (it works once, for ${validFor}).`,
    'If you did not ask for it, ignore this message: your password stays as it is.',
  ]
  return {
    to: to.email,
    subject: `[${SITE}] Password reset`,
    text: `${greeting(to.name)}\n\n${lines[0]}\n${lines[1]}\n\n${link}\n\n${lines[2]}\n\n— ${SITE}\n`,
    html: html(greeting(to.name), lines, link, 'Choose a new password'),
  }
}
