import { rangeError } from '../internal/validate.ts'
import type { PickerFactory } from '../model/picker.ts'
import { leastRequest } from './least-request.ts'
import { maglev } from './maglev.ts'
import { p2cEwma } from './p2c-ewma.ts'
import { randomPicker } from './random.ts'
import { ringHash } from './ring-hash.ts'
import { roundRobin } from './round-robin.ts'
import { weightedRoundRobin } from './weighted-round-robin.ts'

/** The built-in pickers, by name (docs/pickers/README.md). */
export type PickerName =
  | 'round-robin'
  | 'weighted-round-robin'
  | 'random'
  | 'least-request'
  | 'p2c-ewma'
  | 'ring-hash'
  | 'maglev'

export const PICKER_NAMES: readonly PickerName[] = Object.freeze([
  'round-robin',
  'weighted-round-robin',
  'random',
  'least-request',
  'p2c-ewma',
  'ring-hash',
  'maglev',
])

const FACTORIES: Partial<Record<PickerName, () => PickerFactory>> = {
  'round-robin': roundRobin,
  'weighted-round-robin': weightedRoundRobin,
  random: randomPicker,
  'least-request': () => leastRequest(),
  'p2c-ewma': p2cEwma,
  'ring-hash': () => ringHash(),
  maglev: () => maglev(),
}

/** The built-in picker `name` with its default settings. */
export function pickerByName(name: PickerName): PickerFactory {
  const make = FACTORIES[name]
  if (make === undefined) throw rangeError('picker', 'an available picker', name)
  return make()
}
