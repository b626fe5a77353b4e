// The schedule form's cron preview (client/src/lib/cron.ts): five fields in words, and null for
// anything that is not five valid fields (the server then names the problem).
import t from 'tap'
import { describeCron } from '../../client/src/lib/cron.ts'

t.test('common expressions read as sentences', async (t) => {
  const cases: Record<string, string> = {
    '* * * * *': 'Every minute, every day',
    '*/5 * * * *': 'Every 5 minutes, every day',
    '15 * * * *': 'At minute 15 of every hour, every day',
    '30 3 * * *': 'At 03:30, every day',
    '0 8,12 * * *': 'At 08:00 and 12:00, every day',
    '0 9 * * 1-5': 'At 09:00, on Monday to Friday',
    '0 9 * * MON-FRI': 'At 09:00, on Monday to Friday',
    '0 */2 * * *': 'At minute 0, every 2 hours, every day',
    '0,30 9-17 * * *': 'At minutes 0 and 30, during hours 9 to 17, every day',
    '0 0 1 * *': 'At 00:00, on day 1 of the month',
    '0 0 1 jan-mar *': 'At 00:00, on day 1 of the month, in January to March',
    '0 0 * * 0,7': 'At 00:00, on Sunday',
  }
  for (const [cron, words] of Object.entries(cases)) t.equal(describeCron(cron), words, cron)
})

t.test('restricting both day fields runs on either, as cron does', async (t) => {
  t.equal(describeCron('0 6 13 * 5'), 'At 06:00, on day 13 of the month or on Friday')
})

t.test('anything but five valid fields has no description', async (t) => {
  for (const cron of ['', '* * * *', '* * * * * *', '60 * * * *', '0 24 * * *', '0 0 0 * *', '0 0 * 13 *', '0 0 * * 8', '5-1 * * * *', '*/0 * * * *', 'a b c d e', '0 0 * * FOO']) {
    t.equal(describeCron(cron), null, JSON.stringify(cron))
  }
})
