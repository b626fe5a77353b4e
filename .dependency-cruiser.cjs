// The one-way layers of DESIGN.md ("Layers"), checked by `npm test` (test/system/layers.test.ts):
// server → worker → db; seeds may use anything; client imports only types, only from server/schemas.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'worker-imports-server',
      comment: 'worker/ is the job system: it never imports server/ (HTTP). Move the shared piece down.',
      severity: 'error',
      from: { path: '^worker/' },
      to: { path: '^server/' },
    },
    {
      name: 'db-imports-up',
      comment: 'db/ is the bottom layer: it imports neither worker/ nor server/.',
      severity: 'error',
      from: { path: '^db/' },
      to: { path: '^(worker|server|seeds)/' },
    },
    {
      name: 'feature-imports-engine',
      comment: 'A feature imports only the feature API (worker/features/api.ts), its own libraries and db/.',
      severity: 'error',
      from: { path: '^worker/features/(?!api\\.ts$|registry\\.ts$|index\\.ts$)' },
      to: { path: '^worker/', pathNot: '^worker/features/(api\\.ts$|lib/)' },
    },
    {
      name: 'client-imports-outside-schemas',
      comment: 'The SPA imports nothing from the other layers but types from server/schemas/.',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: '^(server|worker|db|seeds)/', pathNot: '^server/schemas/' },
    },
    {
      name: 'client-imports-schema-values',
      comment: 'Only `import type` from the schemas: TypeBox must not reach the bundle.',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: '^server/schemas/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|\\.data|\\.tap)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.vue', '.json'] },
  },
}
