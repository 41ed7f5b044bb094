// Reads the import graph of src/ and checks it against the room rules of docs/architecture.md.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

/**
 * Rooms that are features: they import only the model, internals, the ports and themselves. A new
 * feature room is added here and to the map in docs/architecture.md.
 */
const FEATURE_ROOMS = new Set([
  'call',
  'classify',
  'diagnostics',
  'discovery',
  'ejection',
  'load',
  'pickers',
  'priorities',
  'resources',
  'warmup',
])
/** What every room may import. */
const SHARED = ['model/', 'internal/', 'core/ports.ts']
/** The public surface an adapter may build on, beside the ports and shared adapter code. */
const ADAPTER_SURFACE = [
  ...SHARED,
  'core/port-access.ts',
  'balancer.ts',
  'options/options.ts',
  'resources/resources.ts',
  'classify/',
  'adapters/http/',
  'addons/metrics/',
]

export function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sources(path, out)
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Relative import and export-from specifiers of a file (static, dynamic and `import type`). */
function importsOf(text: string): string[] {
  const specs: string[] = []
  const pattern =
    /(?:^|\n)\s*(?:import|export)\s[^'"]*?\sfrom\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"](\.{1,2}\/[^'"]+)['"]/g
  for (const match of text.matchAll(pattern)) specs.push((match[1] ?? match[2] ?? match[3])!)
  return specs
}

/** The graph of `src/`, as paths relative to it. */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of sources(root)) {
    if (file.endsWith('.d.ts')) continue
    const from = relative(root, file).split('\\').join('/')
    const text = readFileSync(file, 'utf8')
    graph.set(
      from,
      importsOf(text).map((spec) =>
        relative(root, resolve(dirname(file), spec))
          .split('\\')
          .join('/'),
      ),
    )
  }
  return graph
}

/** Strongly connected components with more than one file (Tarjan), each sorted. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0
  const stack: string[] = []
  const on = new Set<string>()
  const indices = new Map<string, number>()
  const low = new Map<string, number>()
  const found: string[][] = []
  const visit = (v: string) => {
    indices.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!indices.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!))
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!indices.has(v)) visit(v)
  return found
}

export function roomOf(path: string): string {
  if (path.startsWith('adapters/') || path.startsWith('addons/')) {
    const [top, name] = path.split('/')
    return name!.endsWith('.ts') ? top! : `${top}/${name}`
  }
  const slash = path.indexOf('/')
  return slash === -1 ? '' : path.slice(0, slash)
}

const allowedBy = (target: string, prefixes: readonly string[]) =>
  prefixes.some((p) => (p.endsWith('/') ? target.startsWith(p) : target === p))

/** Imports the rules forbid, as `from → to`. */
export function forbiddenImports(graph: Map<string, string[]>): string[] {
  const bad: string[] = []
  for (const [from, targets] of graph) {
    const room = roomOf(from)
    for (const to of targets) {
      const own = roomOf(to) === room
      let ok: boolean
      if (room === 'model') ok = allowedBy(to, ['model/', 'internal/'])
      else if (room === 'internal') ok = allowedBy(to, ['internal/'])
      else if (FEATURE_ROOMS.has(room)) ok = own || allowedBy(to, SHARED)
      // Cross-cutting option resolution gathers the sections from the feature rooms.
      else if (room === 'options') ok = !allowedBy(to, ['core/', 'adapters/'])
      // Adapters and add-ons (`addons/<name>/`, e.g. a metrics exporter) build on the public surface and the ports.
      else if (room.startsWith('adapters/') || room.startsWith('addons/')) ok = own || allowedBy(to, ADAPTER_SURFACE)
      else if (room === 'core' || room === '')
        ok = true // the hub: core/, balancer.ts, index.ts
      else ok = false // a room not in docs/architecture.md's map: add it there and here first
      if (!ok) bad.push(`${from} → ${to}`)
    }
  }
  return bad.sort()
}
