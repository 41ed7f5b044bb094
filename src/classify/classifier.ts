import type { Classification, Verdict } from '../model/verdict.ts'

/** What an attempt produced: a returned value or a thrown error. */
export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown }

/**
 * Turns outcomes into verdicts. Return `undefined` to fall back to keel's rules (docs/classification.md).
 * A plain object is enough.
 */
export interface Classifier {
  classify(outcome: Outcome): Verdict | Classification | undefined
  /**
   * Releases a value keel will not hand back (a retried response, a losing hedge), e.g. cancels a
   * response body so its socket is reused. keel's default cancels `Response` and undici bodies.
   */
  discard?(value: unknown): void
}

/** The `classify` option: a classifier, or just its `classify` function. */
export type ClassifyOption = Classifier | Classifier['classify']
