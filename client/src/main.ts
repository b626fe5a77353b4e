import { createApp } from 'vue'
import App from './App.vue'
import { onUnauthorized } from './api/http.ts'
import { useSession } from './composables/useSession.ts'
import { router } from './router.ts'
import './styles.css'

// A 401 on any call means the session ended (signed out elsewhere, expired, password reset):
// forget the user and let the route guard send the browser to the sign-in page.
onUnauthorized((path) => {
  const session = useSession()
  if (path === 'auth/user/' || !session.signedIn.value) return
  session.clear()
  const here = router.currentRoute.value
  if (here.meta.auth) void router.replace({ name: 'sign-in', query: { next: here.fullPath } })
})

createApp(App).use(router).mount('#app')
