// Reading a Server-Sent Events stream over real HTTP, as a browser's EventSource would.
export interface Sse { event: string; data: any }

/** Reads an SSE stream to its end: every event with its parsed data (each also to `onEvent`). */
export async function readStream(url: string, headers: Record<string, string>, onEvent?: (e: Sse) => void): Promise<Sse[]> {
  const res = await fetch(url, { headers })
  if (res.status !== 200) throw new Error(`SSE answered ${res.status}`)
  const events: Sse[] = []
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const event = block.split('\n').find((l) => l.startsWith('event: '))?.slice(7)
      const data = block.split('\n').find((l) => l.startsWith('data: '))?.slice(6)
      if (event && data) {
        const e = { event, data: JSON.parse(data) }
        events.push(e)
        onEvent?.(e)
      }
    }
  }
  return events
}
