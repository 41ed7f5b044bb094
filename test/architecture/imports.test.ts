// The import rules of docs/architecture.md, enforced: no cycle but the one documented, no import
// across rooms that the rules forbid, no file in src/ over 400 lines.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { cycles, forbiddenImports, importGraph, sources } from './import-graph.ts'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))
const MAX_LINES = 400

/** The one deliberate cycle: an attempt and its endpoint's intrusive list of live attempts. */
const ALLOWED_CYCLE = ['core/attempt.ts', 'core/endpoint-state.ts']

describe('src/ import graph', () => {
  const graph = importGraph(SRC)

  it('reads every file', () => {
    expect(graph.size).toBeGreaterThan(100)
    expect(graph.get('index.ts')).toContain('balancer.ts')
  })

  it('has no cycle but the attempt ↔ endpoint-state intrusive list', () => {
    const found = cycles(graph).filter((c) => c.join() !== ALLOWED_CYCLE.join())
    expect(found).toEqual([])
  })

  it('has no import the room rules forbid', () => {
    expect(forbiddenImports(graph)).toEqual([])
  })

  it('keeps only the entry points at the root', () => {
    const root = [...graph.keys()].filter((p) => !p.includes('/')).sort()
    expect(root).toEqual(['balancer.ts', 'index.ts'])
  })

  it('has no file over 400 lines', () => {
    const long = sources(SRC)
      .map((file) => ({ file: relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
      .filter(({ lines }) => lines > MAX_LINES)
    expect(long).toEqual([])
  })
})
