import { type CmsdStreamingFormat, type SegmentQuality, CmsdObjectType, CmsdStreamType, appendCmsdDynamic, encodeCmsdStatic } from '@mqa/common'
import { type PublishedSegment } from './packager.js'

/**
 * The CMSD headers of one segment response (WIRE-FORMAT.md §3): CMSD-Static with the standard
 * keys and the segment's MQA aggregates, CMSD-Dynamic with this node's item. `quality` is the
 * segment's own, or — for a low-latency response that starts before the segment is complete —
 * the previous segment's, whose `sn` says so.
 */
export function segmentCmsd(options: {
  readonly segment: Pick<PublishedSegment, 'durationMs' | 'availableAtMs' | 'hasAudio'> & { readonly bytes: number }
  readonly quality: SegmentQuality | undefined
  readonly format: CmsdStreamingFormat
  readonly node: string
  readonly responseDelayMs: number
}): { static: string; dynamic: string } {
  const s = options.segment
  const bitrateKbps = s.durationMs > 0 ? Math.round((s.bytes * 8) / s.durationMs) : undefined
  return {
    static: encodeCmsdStatic({
      objectType: s.hasAudio ? CmsdObjectType.MUXED : CmsdObjectType.VIDEO,
      streamingFormat: options.format,
      streamType: CmsdStreamType.LIVE,
      ...(bitrateKbps !== undefined ? { bitrateKbps } : {}),
      durationMs: s.durationMs,
      node: options.node,
      availableAtMs: Math.round(s.availableAtMs),
      ...(options.quality ? { quality: options.quality } : {}),
    }),
    dynamic: appendCmsdDynamic(undefined, { node: options.node, rd: Math.max(0, Math.round(options.responseDelayMs)) }),
  }
}
