// Type-checks the TypeScript a user copies: every ```ts block in README.md and docs/, and every
// program in examples/, compiled as written under `--strict` against the built package (run
// `npm run build` first). Blocks that are deliberately partial are fenced ```ts partial and skipped.
// A block fenced ```ts file=examples/x.ts must also equal that file, so a tutorial that shows a
// whole file (docs/getting-started.md) cannot drift from the program CI runs.
//
// The package is installed into a temporary project the way npm would lay it out: a copy of
// `package.json` and `dist` as node_modules/keel (so `exports` and `typesVersions` are what
// resolve `keel`, `keel/fetch`…, never this repository's sources), every other dependency linked
// from this repository's node_modules. Each block becomes its own module file, so blocks do not
// see each other's names. A second, CommonJS project compiles an import of every entry point under
// `moduleResolution: "node"` (TypeScript's `node10`) to check `typesVersions`.
//
// Usage: node scripts/check-snippets.mjs [--keep]   (--keep leaves the temporary project for a look)
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const keep = process.argv.includes('--keep')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
if (!existsSync(join(root, 'dist/index.d.ts'))) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(1)
}

/** Markdown files to scan: README.md and everything under docs/. */
function markdownFiles() {
  const found = [join(root, 'README.md')]
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.md')) found.push(path)
    }
  }
  walk(join(root, 'docs'))
  return found.sort()
}

/** The ```ts blocks of one markdown file: `{ line, code, file }` (line of the opening fence, 1-based). */
export function tsBlocks(markdown) {
  const blocks = []
  const lines = markdown.split('\n')
  let open
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)\s*(.*)$/.exec(lines[i])
    if (open === undefined) {
      if (fence === null) continue
      open = { marker: fence[2], lang: fence[3], info: fence[4].trim(), line: i + 1, body: [] }
      continue
    }
    if (fence?.[2].startsWith(open.marker) && fence[3] === '' && fence[4] === '') {
      const typescript = open.lang === 'ts' || open.lang === 'typescript'
      if (typescript && !open.info.split(/\s+/).includes('partial')) {
        const file = /(?:^|\s)file=(\S+)/.exec(open.info)?.[1]
        blocks.push({ line: open.line, code: open.body.join('\n'), file })
      }
      open = undefined
      continue
    }
    open.body.push(lines[i])
  }
  return blocks
}

const dir = mkdtempSync(join(tmpdir(), 'keel-snippets-'))
const modules = join(dir, 'node_modules')
const tsc = join(root, 'node_modules/typescript/bin/tsc')

function installPackage() {
  mkdirSync(modules, { recursive: true })
  // Every dependency this repository has, linked; keel itself as the files npm would publish.
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry === 'keel' || entry.startsWith('.')) continue
    symlinkSync(join(root, 'node_modules', entry), join(modules, entry), 'dir')
  }
  const keel = join(modules, 'keel')
  mkdirSync(keel)
  cpSync(join(root, 'package.json'), join(keel, 'package.json'))
  cpSync(join(root, 'dist'), join(keel, 'dist'), { recursive: true })
}

const strictOptions = {
  target: 'ES2023',
  lib: ['ES2023'],
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  moduleDetection: 'force',
  types: ['node'],
  strict: true,
  skipLibCheck: true,
  noEmit: true,
  esModuleInterop: true,
  allowImportingTsExtensions: true,
  resolveJsonModule: true,
}

/** Runs tsc on a project; returns its diagnostics with paths made relative to the project. */
function compile(project) {
  const run = spawnSync(process.execPath, [tsc, '-p', '.', '--pretty', 'false'], { cwd: project, encoding: 'utf8' })
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() }
}

let failed = false
try {
  installPackage()
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'snippets', private: true, type: 'module' }))

  // 1. Docs blocks: one module per block, named after its file and line.
  const origin = new Map()
  mkdirSync(join(dir, 'snippets'))
  let blockCount = 0
  for (const file of markdownFiles()) {
    const name = relative(root, file).replace(/[/.]/g, '_')
    for (const block of tsBlocks(readFileSync(file, 'utf8'))) {
      if (block.file !== undefined) {
        const shown = join(root, block.file)
        if (!existsSync(shown) || readFileSync(shown, 'utf8').trimEnd() !== block.code.trimEnd()) {
          failed = true
          console.error(
            `FAIL ${relative(root, file)}:${block.line} differs from ${block.file}: copy the file into the page`,
          )
        }
      }
      const snippet = `snippets/${name}_L${block.line}.ts`
      writeFileSync(join(dir, snippet), `${block.code}\n`)
      origin.set(snippet, `${relative(root, file)}:${block.line}`)
      blockCount++
    }
  }

  // 2. Examples, copied with whatever they read (protos), compiled the same way.
  cpSync(join(root, 'examples'), join(dir, 'examples'), { recursive: true })
  const exampleCount = readdirSync(join(dir, 'examples'), { recursive: true }).filter((f) => f.endsWith('.ts')).length

  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: strictOptions, include: ['snippets/*.ts', 'examples/**/*.ts'] }, null, 2),
  )
  const strict = compile(dir)
  if (strict.ok) {
    console.log(
      `ok   ${blockCount} \`\`\`ts blocks in README.md and docs/, ${exampleCount} examples (--strict, NodeNext)`,
    )
  } else {
    failed = true
    // Point each diagnostic at the markdown line it came from: `snippets/x_L12.ts(3,5)` → `docs/x.md:14`.
    const mapped = strict.output.replace(/(snippets\/[\w-]+\.ts)\((\d+),(\d+)\)/g, (all, snippet, line, column) => {
      const where = origin.get(snippet)
      if (where === undefined) return all
      const [file, fence] = where.split(':')
      return `${file}:${Number(fence) + Number(line)}:${column}`
    })
    console.error(`FAIL snippets and examples do not compile:\n${mapped}`)
  }

  // 3. Older resolution: CommonJS under moduleResolution "node" resolves every entry point's types.
  const legacy = join(dir, 'legacy')
  mkdirSync(legacy)
  const entries = Object.keys(pkg.exports).filter((key) => key !== './package.json')
  const names = entries.map((key) => (key === '.' ? 'keel' : `keel/${key.slice(2)}`))
  writeFileSync(
    join(legacy, 'entries.ts'),
    `${names.map((name, i) => `import * as entry${i} from '${name}'`).join('\n')}\n` +
      `export const loaded = [${names.map((_, i) => `entry${i}`).join(', ')}].length\n` +
      `import type { Balancer } from 'keel'\nimport type { FetchFunction } from 'keel/fetch'\n` +
      `export type Check = [Balancer, FetchFunction]\n`,
  )
  writeFileSync(
    join(legacy, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        ...strictOptions,
        module: 'CommonJS',
        moduleResolution: 'node',
        ignoreDeprecations: '6.0',
        moduleDetection: 'auto',
      },
      files: ['entries.ts'],
    }),
  )
  writeFileSync(join(legacy, 'package.json'), JSON.stringify({ name: 'legacy', private: true, type: 'commonjs' }))
  const node10 = compile(legacy)
  if (node10.ok) console.log(`ok   ${names.join(', ')} resolve under moduleResolution "node" (CommonJS)`)
  else {
    failed = true
    console.error(`FAIL moduleResolution "node" does not resolve every entry point:\n${node10.output}`)
  }
} finally {
  if (keep) console.log(`kept ${dir}`)
  else rmSync(dir, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
