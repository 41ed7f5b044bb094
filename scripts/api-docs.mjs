// Builds the API reference from the JSDoc of the public entry points (the ones tsup builds, so a
// new entry point is documented without touching this file) with TypeDoc, into api-docs/
// (git-ignored; open api-docs/index.html). Fails on any warning: a broken {@link}, an exported
// symbol without a comment, or a public type that is used but not exported.
//
// Usage: node scripts/api-docs.mjs [--json api.json]
import { Application, LogLevel } from 'typedoc'
import config from '../tsup.config.ts'

const root = new URL('..', import.meta.url).pathname
const entries = Object.values(config.entry ?? {}).map((path) => new URL(`../${path}`, import.meta.url).pathname)

const app = await Application.bootstrapWithPlugins({
  name: 'keel',
  entryPoints: entries,
  entryPointStrategy: 'resolve',
  tsconfig: `${root}tsconfig.json`,
  out: `${root}api-docs`,
  readme: 'none',
  excludePrivate: true,
  excludeProtected: false,
  excludeInternal: true,
  excludeExternals: true,
  githubPages: false,
  // Source links from the package's repository, not from whatever remote a clone has (CI clones
  // from a folder, which TypeDoc cannot turn into links).
  sourceLinkTemplate: 'https://github.com/keel-lb/keel/blob/{gitRevision}/{path}#L{line}',
  hideGenerator: true,
  sort: ['kind', 'alphabetical'],
  treatWarningsAsErrors: true,
  treatValidationWarningsAsErrors: true,
  validation: {
    notExported: true,
    invalidLink: true,
    rewrittenLink: true,
    notDocumented: true,
    unusedMergeModuleWith: true,
  },
  // Every export needs a comment; members of documented types are encouraged, not enforced.
  requiredToBeDocumented: ['Enum', 'Variable', 'Function', 'Class', 'Interface', 'TypeAlias'],
  logLevel: LogLevel.Warn,
})

const project = await app.convert()
if (project === undefined) {
  console.error('FAIL TypeDoc could not convert the entry points')
  process.exit(1)
}
app.validate(project)
if (app.logger.hasErrors() || app.logger.hasWarnings()) {
  console.error(`FAIL ${app.logger.errorCount} errors, ${app.logger.warningCount} warnings (see above)`)
  process.exit(1)
}
await app.generateDocs(project, `${root}api-docs`)
const json = process.argv.indexOf('--json')
if (json !== -1) await app.generateJson(project, process.argv[json + 1] ?? `${root}api-docs/api.json`)
if (app.logger.hasErrors() || app.logger.hasWarnings()) process.exit(1)
console.log(`ok   API reference for ${entries.length} entry points in api-docs/index.html`)
