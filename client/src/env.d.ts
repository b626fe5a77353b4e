declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

/** Runtime settings injected by the server into index.html (see server/spa.ts). */
interface Window {
  __CONVEYOR__?: { apiRoot: string; staticRoot: string; environment: string; version: string }
}
