import { MqaError } from './errors.js'
import { type NalUnit, VideoCodec } from './nal.js'
import { decodeMqaPayload, encodeMqaPayloadBytes, type MqaRecord, type MqaRecordInput } from './payload.js'
import { buildSeiNal, buildUserDataUnregistered, findUserDataInNals } from './sei.js'
import { MQA_SEI_UUID } from './wire-format.js'

/** The SEI NAL unit that carries one MQA record (header + escaped RBSP, no start code). */
export function buildMqaSeiNal(codec: VideoCodec, record: MqaRecordInput): Uint8Array {
  return buildSeiNal(codec, [buildUserDataUnregistered(MQA_SEI_UUID, encodeMqaPayloadBytes(record))])
}

export interface MqaRecordsFound {
  readonly records: MqaRecord[]
  /** Payloads of another version, skipped. */
  readonly skipped: number
  /** Unparseable SEI or payloads: skipped, never fatal. */
  readonly errors: MqaError[]
}

export interface ReadMqaOptions {
  /** Other UUIDs to accept besides ours (WIRE-FORMAT.md §1). */
  readonly extraUuids?: readonly Uint8Array[]
}

/** Every MQA record in the SEI of one access unit's NAL units. */
export function readMqaRecords(codec: VideoCodec, nals: readonly NalUnit[], options: ReadMqaOptions = {}): MqaRecordsFound {
  const uuids = options.extraUuids ? [MQA_SEI_UUID, ...options.extraUuids] : [MQA_SEI_UUID]
  const found = findUserDataInNals(codec, nals, uuids)
  const records: MqaRecord[] = []
  const errors = [...found.errors]
  let skipped = 0
  for (const data of found.data) {
    try {
      const d = decodeMqaPayload(data)
      if (d.kind === 'record') records.push(d.record)
      else skipped++
    } catch (err) {
      if (err instanceof MqaError) errors.push(err)
      else throw err
    }
  }
  return { records, skipped, errors }
}
