import { ErrorCode, MqaError } from '@mqa/common'

/**
 * MSB-first bit reader over an RBSP (emulation prevention already removed), with the
 * Exp-Golomb codes of H.264/H.265 §9.1. Reading past the end throws ERR_NAL_TRUNCATED naming
 * what was being read, so a short parameter set says which field it lost.
 */
export class BitReader {
  readonly #data: Uint8Array
  #bitPos = 0

  constructor(data: Uint8Array, startByte = 0) {
    this.#data = data
    this.#bitPos = startByte * 8
  }

  get bitPosition(): number {
    return this.#bitPos
  }

  get bitsLeft(): number {
    return this.#data.length * 8 - this.#bitPos
  }

  /** Up to 32 bits as an unsigned number. */
  u(bits: number, what = 'field'): number {
    if (bits === 0) return 0
    if (bits > 32) throw new MqaError(ErrorCode.VALUE_RANGE, `cannot read ${bits} bits at once (at most 32)`)
    if (bits > this.bitsLeft) {
      throw new MqaError(ErrorCode.NAL_TRUNCATED, `${what}: needs ${bits} bits, ${this.bitsLeft} left`, { offset: this.#bitPos >> 3 })
    }
    let value = 0
    for (let i = 0; i < bits; i++) {
      const byte = this.#data[this.#bitPos >> 3]!
      const bit = (byte >> (7 - (this.#bitPos & 7))) & 1
      value = value * 2 + bit
      this.#bitPos++
    }
    return value
  }

  flag(what = 'flag'): boolean {
    return this.u(1, what) === 1
  }

  skip(bits: number, what = 'field'): void {
    if (bits > this.bitsLeft) {
      throw new MqaError(ErrorCode.NAL_TRUNCATED, `${what}: needs ${bits} bits, ${this.bitsLeft} left`, { offset: this.#bitPos >> 3 })
    }
    this.#bitPos += bits
  }

  /** ue(v): unsigned Exp-Golomb. Values up to 2^32 − 2 (32 leading zeros at most). */
  ue(what = 'ue(v)'): number {
    let zeros = 0
    while (this.u(1, what) === 0) {
      zeros++
      if (zeros > 31) throw new MqaError(ErrorCode.NAL_INVALID, `${what}: Exp-Golomb code with more than 31 leading zeros`, { offset: this.#bitPos >> 3 })
    }
    return 2 ** zeros - 1 + this.u(zeros, what)
  }

  /** se(v): signed Exp-Golomb (1 → 1, 2 → −1, 3 → 2, ...). */
  se(what = 'se(v)'): number {
    const k = this.ue(what)
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2)
  }
}
