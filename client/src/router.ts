// Routes (pages load lazily) and the guard: signed-out users go to sign-in (and come back after),
// signed-in users skip the sign-in and sign-up pages, others than staff see "not allowed" on staff
// pages. Focus moves to each new page's heading.
import { nextTick } from 'vue'
import { createRouter, createWebHistory } from 'vue-router'
import { useSession } from './composables/useSession.ts'

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for signed-in users. */
    auth?: boolean
    /** Only for signed-out users (sign-in, sign-up). */
    guest?: boolean
    /** Only for staff: others see the "not allowed" page at the same address. */
    staff?: boolean
    title?: string
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'dashboard', component: () => import('./views/DashboardView.vue'), meta: { auth: true, title: 'Jobs' } },
    { path: '/jobs/new', name: 'new-job', component: () => import('./views/NewJobView.vue'), meta: { auth: true, title: 'New job' } },
    { path: '/jobs/:feature/:id', name: 'job', component: () => import('./views/JobView.vue'), meta: { auth: true, title: 'Job' } },
    { path: '/profile', name: 'profile', component: () => import('./views/ProfileView.vue'), meta: { auth: true, title: 'Profile' } },
    { path: '/monitoring', name: 'monitoring', component: () => import('./views/MonitoringView.vue'), meta: { auth: true, title: 'Monitoring' } },
    { path: '/sign-in', name: 'sign-in', component: () => import('./views/SignInView.vue'), meta: { guest: true, title: 'Sign in' } },
    { path: '/sign-up', name: 'sign-up', component: () => import('./views/SignUpView.vue'), meta: { guest: true, title: 'Sign up' } },
    { path: '/forgot-password', name: 'forgot-password', component: () => import('./views/ForgotPasswordView.vue'), meta: { title: 'Forgot password' } },
    { path: '/password-reset/:uid/:token', name: 'password-reset', component: () => import('./views/PasswordResetView.vue'), meta: { title: 'Choose a new password' } },
    { path: '/verify-email/:key', name: 'verify-email', component: () => import('./views/VerifyEmailView.vue'), meta: { title: 'Verify e-mail' } },
    {
      path: '/admin',
      component: () => import('./views/AdminLayout.vue'),
      meta: { auth: true, staff: true },
      children: [
        { path: '', redirect: { name: 'admin-users' } },
        { path: 'users', name: 'admin-users', component: () => import('./views/AdminUsersView.vue'), meta: { title: 'Users' } },
        { path: 'jobs', name: 'admin-jobs', component: () => import('./views/AdminJobsView.vue'), meta: { title: 'All jobs' } },
        { path: 'schedules', name: 'admin-schedules', component: () => import('./views/AdminSchedulesView.vue'), meta: { title: 'Schedules' } },
        { path: 'audit-log', name: 'admin-audit', component: () => import('./views/AdminAuditView.vue'), meta: { title: 'Audit log' } },
      ],
    },
    { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue'), meta: { title: 'Not found' } },
    // Reached by name only (the guard), so the address the user typed stays in the bar.
    { path: '/:pathMatch(.*)*', name: 'not-allowed', component: () => import('./views/NotAllowedView.vue'), meta: { title: 'Not allowed' } },
  ],
})

/** Where to go after signing in: a path inside the app, never another site. */
export function nextPath(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}

router.beforeEach(async (to) => {
  // Every page needs to know (the header shows who is signed in); asked once per page load.
  const user = await useSession().load()
  if (to.meta.auth && !user) return { name: 'sign-in', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
  if (to.meta.guest && user) return nextPath(to.query.next)
  if (to.meta.staff && !user?.is_staff) {
    return { name: 'not-allowed', params: { pathMatch: to.path.slice(1).split('/') }, query: to.query, hash: to.hash }
  }
  return true
})

router.afterEach((to, from) => {
  document.title = to.meta.title ? `${to.meta.title} · Conveyor` : 'Conveyor'
  // On navigation (not the first load), move focus to the new page's heading for screen readers.
  if (from.matched.length > 0 && to.path !== from.path) void nextTick(() => document.querySelector<HTMLElement>('main h1')?.focus())
})
