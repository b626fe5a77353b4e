// Loaded into every test process and worker thread (package.json tap.node-arg), after tap's own
// preloads: tap starts each test with --enable-source-maps and @tapjs/processinfo turns source maps
// on again, so each isolate read and parsed the .map file of every module it loaded that has one
// (~80 ms per worker thread in a --cpu-prof profile; a test file's CPU up to its first test fell
// from ~850 to ~500 ms without them). Conveyor's .ts files need no maps (type stripping keeps
// every line and column), and tap's coverage, which would use them, is off (tap.disable-coverage).
process.setSourceMapsEnabled(false)
