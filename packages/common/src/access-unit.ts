import { type NalUnit, VideoCodec, isVclNal, nalHeaderSize } from './nal.js'

/**
 * Whether this NAL starts a new access unit, given that the previous NAL was (or was not) part of
 * a coded picture (H.264 7.4.1.2.3, H.265 7.4.2.4.4): an AUD, parameter set or prefix SEI after
 * a picture, or a slice that begins a new picture (first_mb_in_slice == 0 /
 * first_slice_segment_in_pic_flag, both the first bit after the header).
 */
export function startsAccessUnit(codec: VideoCodec, nal: NalUnit, afterPicture: boolean): boolean {
  const t = nal.type
  if (isVclNal(codec, t)) {
    const firstBit = (nal.data[nalHeaderSize(codec)] ?? 0) & 0x80
    return afterPicture && firstBit !== 0
  }
  if (!afterPicture) return false
  if (codec === VideoCodec.H264) return t === 9 || t === 7 || t === 8 || t === 6 || (t >= 14 && t <= 18)
  return t === 35 || t === 32 || t === 33 || t === 34 || t === 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55)
}

/** Group a stream's NAL units into access units; NAL units before the first picture join the first. */
export function groupAccessUnits(codec: VideoCodec, nals: readonly NalUnit[]): NalUnit[][] {
  const out: NalUnit[][] = []
  let current: NalUnit[] = []
  let afterPicture = false
  for (const nal of nals) {
    if (startsAccessUnit(codec, nal, afterPicture) && current.length > 0) {
      out.push(current)
      current = []
      afterPicture = false
    }
    current.push(nal)
    if (isVclNal(codec, nal.type)) afterPicture = true
  }
  if (current.length > 0) out.push(current)
  return out
}
