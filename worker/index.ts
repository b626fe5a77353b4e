// The job engine's entry point: started by the worker role, stopped on shutdown.
import type { Services } from '../server/services.ts'

export interface Engine {
  stop(): Promise<void>
}

export async function startEngine(_services: Services): Promise<Engine> {
  return { async stop() {} }
}
