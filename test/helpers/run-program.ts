import { spawn } from 'node:child_process'

/** What a TypeScript program run in a child Node process printed, and how it exited. */
export interface ProgramRun {
  /** The exit code; `null` when it had to be killed after `timeoutMs`. */
  readonly exited: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `file` (a `.mts` program) in a child Node process with type stripping and `flags`,
 * collecting its output; a program still running after `timeoutMs` is killed (`exited: null`).
 */
export function runProgram(file: string, flags: readonly string[] = [], timeoutMs = 8_000): Promise<ProgramRun> {
  const strip = process.features.typescript ? [] : ['--experimental-strip-types']
  const child = spawn(process.execPath, [...strip, '--no-warnings', ...flags, file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) => {
    const killer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve({ exited: null, stdout, stderr })
    }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(killer)
      resolve({ exited: code, stdout, stderr })
    })
  })
}
