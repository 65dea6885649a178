import { ErrorCode, H264NalType, H265NalType, MqaError, type NalUnit, VideoCodec, unescapeRbsp } from '@mqa/common'
import { type AudioTrackInfo, type VideoTrackInfo } from '../media.js'
import { BitReader } from './bit-reader.js'
import { box, concatBytes, fullBox, u16, u32, u8 } from './boxes.js'

/**
 * Decoder configuration for CMAF sample entries: the SPS parsers (H.264 §7.3.2.1, H.265
 * §7.3.2.2) that give the picture size, profile and level; the AVCDecoderConfigurationRecord
 * (`avcC`) and HEVCDecoderConfigurationRecord (`hvcC`) of ISO/IEC 14496-15; the MPEG-4
 * AudioSpecificConfig in an `esds` (ISO/IEC 14496-1/-3); and RFC 6381 codecs strings.
 * Parameter sets are passed as in the stream: escaped NAL units, header included, no start code.
 */

export interface ColourDescription {
  readonly primaries: number
  readonly transfer: number
  readonly matrix: number
  readonly fullRange: boolean
}

/** What the packager needs from an SPS, in both codecs. Sizes in luma samples. */
export interface SpsCommon {
  readonly profileIdc: number
  readonly levelIdc: number
  readonly chromaFormatIdc: number
  readonly bitDepthLuma: number
  readonly bitDepthChroma: number
  /** Decoded picture size (whole macroblocks / coding blocks). */
  readonly codedWidth: number
  readonly codedHeight: number
  /** Output size, after the cropping / conformance window. */
  readonly width: number
  readonly height: number
  /** Sample aspect ratio from the VUI (1:1 when absent or unspecified). */
  readonly sarWidth: number
  readonly sarHeight: number
  /** Frame rate from the VUI timing info, when there is one. */
  readonly frameRate: { readonly num: number; readonly den: number } | undefined
  /** VUI colour description, when present. */
  readonly colour: ColourDescription | undefined
}

export interface H264Sps extends SpsCommon {
  /** constraint_set0..5 flags and the two reserved bits: the byte between profile and level. */
  readonly constraintFlags: number
  readonly spsId: number
  readonly frameMbsOnly: boolean
}

export interface H265Sps extends SpsCommon {
  readonly profileSpace: number
  readonly tierFlag: boolean
  /** general_profile_compatibility_flag[0..31], flag[0] in the most significant bit. */
  readonly profileCompatibilityFlags: number
  /** The 48 bits from general_progressive_source_flag on, as 6 bytes. */
  readonly constraintIndicatorFlags: Uint8Array
  readonly maxSubLayers: number
  readonly temporalIdNesting: boolean
  readonly spsId: number
}

/** Table E-1 (both codecs): aspect_ratio_idc 1..16. */
const SAR_TABLE: readonly (readonly [number, number])[] = [
  [1, 1], [12, 11], [10, 11], [16, 11], [40, 33], [24, 11], [20, 11], [32, 11],
  [80, 33], [18, 11], [15, 11], [64, 33], [160, 99], [4, 3], [3, 2], [2, 1],
]
const EXTENDED_SAR = 255

/** SubWidthC, SubHeightC by chroma_format_idc (Table 6-1); monochrome uses 1. */
function chromaSubsampling(chromaFormatIdc: number, separateColourPlane: boolean): [number, number] {
  if (separateColourPlane) return [1, 1]
  switch (chromaFormatIdc) {
    case 1:
      return [2, 2]
    case 2:
      return [2, 1]
    default:
      return [1, 1]
  }
}

function rbspOf(nal: Uint8Array, headerBytes: number, codec: string, expectType: number, typeOf: (b: number) => number): Uint8Array {
  if (nal.length <= headerBytes) throw new MqaError(ErrorCode.NAL_TRUNCATED, `${codec} SPS of ${nal.length} bytes has no payload`)
  const type = typeOf(nal[0]!)
  if (type !== expectType) throw new MqaError(ErrorCode.NAL_INVALID, `${codec} SPS expected (nal_unit_type ${expectType}), got nal_unit_type ${type}`)
  return unescapeRbsp(nal.subarray(headerBytes))
}

interface VuiBasics {
  sarWidth: number
  sarHeight: number
  colour: ColourDescription | undefined
}

/** The start of the VUI, the same in both codecs up to chroma_loc_info (E.1.1 / E.2.1). */
function readVuiStart(r: BitReader): VuiBasics {
  let sarWidth = 1
  let sarHeight = 1
  if (r.flag('aspect_ratio_info_present_flag')) {
    const idc = r.u(8, 'aspect_ratio_idc')
    if (idc === EXTENDED_SAR) {
      sarWidth = r.u(16, 'sar_width')
      sarHeight = r.u(16, 'sar_height')
    } else {
      const sar = SAR_TABLE[idc - 1]
      if (sar) [sarWidth, sarHeight] = sar
    }
    if (sarWidth === 0 || sarHeight === 0) [sarWidth, sarHeight] = [1, 1]
  }
  if (r.flag('overscan_info_present_flag')) r.skip(1, 'overscan_appropriate_flag')
  let colour: ColourDescription | undefined
  if (r.flag('video_signal_type_present_flag')) {
    r.skip(3, 'video_format')
    const fullRange = r.flag('video_full_range_flag')
    if (r.flag('colour_description_present_flag')) {
      colour = { primaries: r.u(8, 'colour_primaries'), transfer: r.u(8, 'transfer_characteristics'), matrix: r.u(8, 'matrix_coeffs'), fullRange }
    }
  }
  if (r.flag('chroma_loc_info_present_flag')) {
    r.ue('chroma_sample_loc_type_top_field')
    r.ue('chroma_sample_loc_type_bottom_field')
  }
  return { sarWidth, sarHeight, colour }
}

function reduceRate(num: number, den: number): { num: number; den: number } | undefined {
  if (num <= 0 || den <= 0) return undefined
  let a = num
  let b = den
  while (b) [a, b] = [b, a % b]
  return { num: num / a, den: den / a }
}

const H264_HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135])

function skipH264ScalingList(r: BitReader, size: number): void {
  let last = 8
  let next = 8
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      const delta = r.se('delta_scale')
      next = (last + delta + 256) % 256
    }
    last = next === 0 ? last : next
  }
}

/** Parse an H.264 SPS NAL unit (escaped, 1-byte header included) far enough for the packager. */
export function parseH264Sps(nal: Uint8Array): H264Sps {
  const rbsp = rbspOf(nal, 1, 'H.264', H264NalType.SPS, (b) => b & 0x1f)
  const r = new BitReader(rbsp)
  const profileIdc = r.u(8, 'profile_idc')
  const constraintFlags = r.u(8, 'constraint_set_flags')
  const levelIdc = r.u(8, 'level_idc')
  const spsId = r.ue('seq_parameter_set_id')
  let chromaFormatIdc = 1
  let separateColourPlane = false
  let bitDepthLuma = 8
  let bitDepthChroma = 8
  if (H264_HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue('chroma_format_idc')
    if (chromaFormatIdc > 3) throw new MqaError(ErrorCode.NAL_INVALID, `H.264 SPS chroma_format_idc ${chromaFormatIdc} is out of range`)
    if (chromaFormatIdc === 3) separateColourPlane = r.flag('separate_colour_plane_flag')
    bitDepthLuma = 8 + r.ue('bit_depth_luma_minus8')
    bitDepthChroma = 8 + r.ue('bit_depth_chroma_minus8')
    r.skip(1, 'qpprime_y_zero_transform_bypass_flag')
    if (r.flag('seq_scaling_matrix_present_flag')) {
      const lists = chromaFormatIdc !== 3 ? 8 : 12
      for (let i = 0; i < lists; i++) {
        if (r.flag('seq_scaling_list_present_flag')) skipH264ScalingList(r, i < 6 ? 16 : 64)
      }
    }
  }
  r.ue('log2_max_frame_num_minus4')
  const pocType = r.ue('pic_order_cnt_type')
  if (pocType === 0) {
    r.ue('log2_max_pic_order_cnt_lsb_minus4')
  } else if (pocType === 1) {
    r.skip(1, 'delta_pic_order_always_zero_flag')
    r.se('offset_for_non_ref_pic')
    r.se('offset_for_top_to_bottom_field')
    const cycle = r.ue('num_ref_frames_in_pic_order_cnt_cycle')
    if (cycle > 255) throw new MqaError(ErrorCode.NAL_INVALID, `H.264 SPS num_ref_frames_in_pic_order_cnt_cycle ${cycle} is over 255`)
    for (let i = 0; i < cycle; i++) r.se('offset_for_ref_frame')
  }
  r.ue('max_num_ref_frames')
  r.skip(1, 'gaps_in_frame_num_value_allowed_flag')
  const widthMbs = r.ue('pic_width_in_mbs_minus1') + 1
  const heightMapUnits = r.ue('pic_height_in_map_units_minus1') + 1
  const frameMbsOnly = r.flag('frame_mbs_only_flag')
  if (!frameMbsOnly) r.skip(1, 'mb_adaptive_frame_field_flag')
  r.skip(1, 'direct_8x8_inference_flag')
  const codedWidth = widthMbs * 16
  const codedHeight = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16
  let width = codedWidth
  let height = codedHeight
  if (r.flag('frame_cropping_flag')) {
    const left = r.ue('frame_crop_left_offset')
    const right = r.ue('frame_crop_right_offset')
    const top = r.ue('frame_crop_top_offset')
    const bottom = r.ue('frame_crop_bottom_offset')
    const [subW, subH] = chromaFormatIdc === 0 ? [1, 1] : chromaSubsampling(chromaFormatIdc, separateColourPlane)
    const cropUnitX = subW
    const cropUnitY = subH * (frameMbsOnly ? 1 : 2)
    width -= cropUnitX * (left + right)
    height -= cropUnitY * (top + bottom)
    if (width <= 0 || height <= 0) throw new MqaError(ErrorCode.NAL_INVALID, `H.264 SPS cropping leaves ${width}x${height} of ${codedWidth}x${codedHeight}`)
  }
  let vui: VuiBasics = { sarWidth: 1, sarHeight: 1, colour: undefined }
  let frameRate: H264Sps['frameRate']
  if (r.flag('vui_parameters_present_flag')) {
    vui = readVuiStart(r)
    if (r.flag('timing_info_present_flag')) {
      const unitsInTick = r.u(32, 'num_units_in_tick')
      const timeScale = r.u(32, 'time_scale')
      // A frame is two ticks in H.264 (Equation E-4 with field-based ticks).
      frameRate = reduceRate(timeScale, 2 * unitsInTick)
    }
  }
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    spsId,
    chromaFormatIdc,
    bitDepthLuma,
    bitDepthChroma,
    codedWidth,
    codedHeight,
    width,
    height,
    sarWidth: vui.sarWidth,
    sarHeight: vui.sarHeight,
    frameRate,
    colour: vui.colour,
    frameMbsOnly,
  }
}

interface ShortTermRps {
  /** DeltaPocS0 (negative, nearest first) and DeltaPocS1 (positive, nearest first). */
  readonly s0: number[]
  readonly s1: number[]
}

/** st_ref_pic_set(stRpsIdx) as it appears in an SPS (§7.3.7, derivation 7-61/7-62). */
function readShortTermRps(r: BitReader, idx: number, sets: readonly ShortTermRps[]): ShortTermRps {
  const interPrediction = idx !== 0 && r.flag('inter_ref_pic_set_prediction_flag')
  if (interPrediction) {
    // In an SPS delta_idx_minus1 is absent: the reference is the previous set.
    const ref = sets[idx - 1]!
    const sign = r.u(1, 'delta_rps_sign')
    const deltaRps = (1 - 2 * sign) * (r.ue('abs_delta_rps_minus1') + 1)
    const numRef = ref.s0.length + ref.s1.length
    const useDelta: boolean[] = []
    for (let j = 0; j <= numRef; j++) {
      const used = r.flag('used_by_curr_pic_flag')
      useDelta.push(used || r.flag('use_delta_flag'))
    }
    const n0 = ref.s0.length
    const s0: number[] = []
    for (let i = ref.s1.length - 1; i >= 0; i--) {
      const d = ref.s1[i]! + deltaRps
      if (d < 0 && useDelta[n0 + i]) s0.push(d)
    }
    if (deltaRps < 0 && useDelta[numRef]) s0.push(deltaRps)
    for (let i = 0; i < n0; i++) {
      const d = ref.s0[i]! + deltaRps
      if (d < 0 && useDelta[i]) s0.push(d)
    }
    const s1: number[] = []
    for (let i = n0 - 1; i >= 0; i--) {
      const d = ref.s0[i]! + deltaRps
      if (d > 0 && useDelta[i]) s1.push(d)
    }
    if (deltaRps > 0 && useDelta[numRef]) s1.push(deltaRps)
    for (let i = 0; i < ref.s1.length; i++) {
      const d = ref.s1[i]! + deltaRps
      if (d > 0 && useDelta[n0 + i]) s1.push(d)
    }
    return { s0, s1 }
  }
  const negatives = r.ue('num_negative_pics')
  const positives = r.ue('num_positive_pics')
  if (negatives > 16 || positives > 16) throw new MqaError(ErrorCode.NAL_INVALID, `H.265 SPS short-term RPS ${idx} has ${negatives}+${positives} pictures (at most 16 each)`)
  const s0: number[] = []
  let poc = 0
  for (let i = 0; i < negatives; i++) {
    poc -= r.ue('delta_poc_s0_minus1') + 1
    r.skip(1, 'used_by_curr_pic_s0_flag')
    s0.push(poc)
  }
  const s1: number[] = []
  poc = 0
  for (let i = 0; i < positives; i++) {
    poc += r.ue('delta_poc_s1_minus1') + 1
    r.skip(1, 'used_by_curr_pic_s1_flag')
    s1.push(poc)
  }
  return { s0, s1 }
}

function skipH265ScalingListData(r: BitReader): void {
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
      if (!r.flag('scaling_list_pred_mode_flag')) {
        r.ue('scaling_list_pred_matrix_id_delta')
      } else {
        const coefNum = Math.min(64, 1 << (4 + (sizeId << 1)))
        if (sizeId > 1) r.se('scaling_list_dc_coef_minus8')
        for (let i = 0; i < coefNum; i++) r.se('scaling_list_delta_coef')
      }
    }
  }
}

/** Parse an H.265 SPS NAL unit (escaped, 2-byte header included) far enough for `hvcC`. */
export function parseH265Sps(nal: Uint8Array): H265Sps {
  const rbsp = rbspOf(nal, 2, 'H.265', H265NalType.SPS, (b) => (b >> 1) & 0x3f)
  const r = new BitReader(rbsp)
  r.skip(4, 'sps_video_parameter_set_id')
  const maxSubLayersMinus1 = r.u(3, 'sps_max_sub_layers_minus1')
  const temporalIdNesting = r.flag('sps_temporal_id_nesting_flag')
  // profile_tier_level(1, sps_max_sub_layers_minus1), §7.3.3
  const profileSpace = r.u(2, 'general_profile_space')
  const tierFlag = r.flag('general_tier_flag')
  const profileIdc = r.u(5, 'general_profile_idc')
  const profileCompatibilityFlags = r.u(32, 'general_profile_compatibility_flags')
  const constraintIndicatorFlags = new Uint8Array(6)
  for (let i = 0; i < 6; i++) constraintIndicatorFlags[i] = r.u(8, 'general_constraint_indicator_flags')
  const levelIdc = r.u(8, 'general_level_idc')
  const subProfile: boolean[] = []
  const subLevel: boolean[] = []
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.flag('sub_layer_profile_present_flag'))
    subLevel.push(r.flag('sub_layer_level_present_flag'))
  }
  if (maxSubLayersMinus1 > 0) r.skip(2 * (8 - maxSubLayersMinus1), 'reserved_zero_2bits')
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) r.skip(88, 'sub_layer profile')
    if (subLevel[i]) r.skip(8, 'sub_layer_level_idc')
  }
  const spsId = r.ue('sps_seq_parameter_set_id')
  const chromaFormatIdc = r.ue('chroma_format_idc')
  if (chromaFormatIdc > 3) throw new MqaError(ErrorCode.NAL_INVALID, `H.265 SPS chroma_format_idc ${chromaFormatIdc} is out of range`)
  const separateColourPlane = chromaFormatIdc === 3 && r.flag('separate_colour_plane_flag')
  const codedWidth = r.ue('pic_width_in_luma_samples')
  const codedHeight = r.ue('pic_height_in_luma_samples')
  let width = codedWidth
  let height = codedHeight
  if (r.flag('conformance_window_flag')) {
    const [subW, subH] = chromaSubsampling(chromaFormatIdc, separateColourPlane)
    const left = r.ue('conf_win_left_offset')
    const right = r.ue('conf_win_right_offset')
    const top = r.ue('conf_win_top_offset')
    const bottom = r.ue('conf_win_bottom_offset')
    width -= subW * (left + right)
    height -= subH * (top + bottom)
    if (width <= 0 || height <= 0) throw new MqaError(ErrorCode.NAL_INVALID, `H.265 SPS conformance window leaves ${width}x${height} of ${codedWidth}x${codedHeight}`)
  }
  const bitDepthLuma = 8 + r.ue('bit_depth_luma_minus8')
  const bitDepthChroma = 8 + r.ue('bit_depth_chroma_minus8')
  const log2MaxPocLsb = r.ue('log2_max_pic_order_cnt_lsb_minus4') + 4
  const orderingInfo = r.flag('sps_sub_layer_ordering_info_present_flag')
  for (let i = orderingInfo ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
    r.ue('sps_max_dec_pic_buffering_minus1')
    r.ue('sps_max_num_reorder_pics')
    r.ue('sps_max_latency_increase_plus1')
  }
  r.ue('log2_min_luma_coding_block_size_minus3')
  r.ue('log2_diff_max_min_luma_coding_block_size')
  r.ue('log2_min_luma_transform_block_size_minus2')
  r.ue('log2_diff_max_min_luma_transform_block_size')
  r.ue('max_transform_hierarchy_depth_inter')
  r.ue('max_transform_hierarchy_depth_intra')
  if (r.flag('scaling_list_enabled_flag') && r.flag('sps_scaling_list_data_present_flag')) skipH265ScalingListData(r)
  r.skip(1, 'amp_enabled_flag')
  r.skip(1, 'sample_adaptive_offset_enabled_flag')
  if (r.flag('pcm_enabled_flag')) {
    r.skip(8, 'pcm_sample_bit_depths')
    r.ue('log2_min_pcm_luma_coding_block_size_minus3')
    r.ue('log2_diff_max_min_pcm_luma_coding_block_size')
    r.skip(1, 'pcm_loop_filter_disabled_flag')
  }
  const numShortTermSets = r.ue('num_short_term_ref_pic_sets')
  if (numShortTermSets > 64) throw new MqaError(ErrorCode.NAL_INVALID, `H.265 SPS num_short_term_ref_pic_sets ${numShortTermSets} is over 64`)
  const sets: ShortTermRps[] = []
  for (let i = 0; i < numShortTermSets; i++) sets.push(readShortTermRps(r, i, sets))
  if (r.flag('long_term_ref_pics_present_flag')) {
    const count = r.ue('num_long_term_ref_pics_sps')
    if (count > 32) throw new MqaError(ErrorCode.NAL_INVALID, `H.265 SPS num_long_term_ref_pics_sps ${count} is over 32`)
    for (let i = 0; i < count; i++) r.skip(log2MaxPocLsb + 1, 'lt_ref_pic_poc_lsb_sps')
  }
  r.skip(1, 'sps_temporal_mvp_enabled_flag')
  r.skip(1, 'strong_intra_smoothing_enabled_flag')
  let vui: VuiBasics = { sarWidth: 1, sarHeight: 1, colour: undefined }
  let frameRate: H265Sps['frameRate']
  if (r.flag('vui_parameters_present_flag')) {
    vui = readVuiStart(r)
    r.skip(3, 'neutral_chroma_indication_flag, field_seq_flag, frame_field_info_present_flag')
    if (r.flag('default_display_window_flag')) for (let i = 0; i < 4; i++) r.ue('def_disp_win_offset')
    if (r.flag('vui_timing_info_present_flag')) {
      const unitsInTick = r.u(32, 'vui_num_units_in_tick')
      const timeScale = r.u(32, 'vui_time_scale')
      frameRate = reduceRate(timeScale, unitsInTick)
    }
  }
  return {
    profileSpace,
    tierFlag,
    profileIdc,
    profileCompatibilityFlags,
    constraintIndicatorFlags,
    levelIdc,
    maxSubLayers: maxSubLayersMinus1 + 1,
    temporalIdNesting,
    spsId,
    chromaFormatIdc,
    bitDepthLuma,
    bitDepthChroma,
    codedWidth,
    codedHeight,
    width,
    height,
    sarWidth: vui.sarWidth,
    sarHeight: vui.sarHeight,
    frameRate,
    colour: vui.colour,
  }
}

function lengthPrefixed16(nal: Uint8Array, what: string): Uint8Array {
  if (nal.length > 0xffff) throw new MqaError(ErrorCode.VALUE_RANGE, `${what} of ${nal.length} bytes does not fit a 16-bit length`)
  return concatBytes([u16(nal.length), nal])
}

export interface AvcParameterSets {
  readonly sps: readonly Uint8Array[]
  readonly pps: readonly Uint8Array[]
}

/** The `avcC` box (AVCDecoderConfigurationRecord, 14496-15 §5.3.3.1), 4-byte NAL lengths. */
export function buildAvcC(sets: AvcParameterSets): Uint8Array {
  const first = sets.sps[0]
  if (!first) throw new MqaError(ErrorCode.VALUE_RANGE, 'avcC needs at least one SPS')
  if (sets.sps.length > 31) throw new MqaError(ErrorCode.VALUE_RANGE, `avcC holds at most 31 SPS, got ${sets.sps.length}`)
  if (sets.pps.length > 255) throw new MqaError(ErrorCode.VALUE_RANGE, `avcC holds at most 255 PPS, got ${sets.pps.length}`)
  const sps = parseH264Sps(first)
  const parts = [
    u8(1, first[1]!, first[2]!, first[3]!, 0xfc | 3, 0xe0 | sets.sps.length),
    ...sets.sps.map((s) => lengthPrefixed16(s, 'SPS')),
    u8(sets.pps.length),
    ...sets.pps.map((p) => lengthPrefixed16(p, 'PPS')),
  ]
  // The chroma/bit-depth extension is required for these profiles (14496-15 §5.3.3.1.2).
  if ([100, 110, 122, 144].includes(sps.profileIdc)) {
    parts.push(u8(0xfc | sps.chromaFormatIdc, 0xf8 | (sps.bitDepthLuma - 8), 0xf8 | (sps.bitDepthChroma - 8), 0))
  }
  return box('avcC', ...parts)
}

export interface HevcParameterSets {
  readonly vps: readonly Uint8Array[]
  readonly sps: readonly Uint8Array[]
  readonly pps: readonly Uint8Array[]
}

export interface HvcCOptions {
  /**
   * array_completeness for the parameter-set arrays: true ('hvc1') says every parameter set is
   * here and none is in the samples; false ('hev1') allows in-band ones. Default true.
   */
  readonly complete?: boolean
}

/** The `hvcC` box (HEVCDecoderConfigurationRecord, 14496-15 §8.3.3.1), 4-byte NAL lengths. */
export function buildHvcC(sets: HevcParameterSets, options: HvcCOptions = {}): Uint8Array {
  const first = sets.sps[0]
  if (!first) throw new MqaError(ErrorCode.VALUE_RANGE, 'hvcC needs at least one SPS')
  const sps = parseH265Sps(first)
  const complete = options.complete ?? true
  const arrays: [number, readonly Uint8Array[]][] = [
    [H265NalType.VPS, sets.vps],
    [H265NalType.SPS, sets.sps],
    [H265NalType.PPS, sets.pps],
  ]
  const present = arrays.filter(([, nals]) => nals.length > 0)
  const compat = sps.profileCompatibilityFlags
  const parts = [
    u8(1, (sps.profileSpace << 6) | (sps.tierFlag ? 0x20 : 0) | sps.profileIdc),
    u32(compat),
    sps.constraintIndicatorFlags,
    u8(sps.levelIdc),
    // min_spatial_segmentation_idc 0 (no promise) and parallelismType 0 (unknown), reserved bits set.
    u16(0xf000),
    u8(0xfc, 0xfc | sps.chromaFormatIdc, 0xf8 | (sps.bitDepthLuma - 8), 0xf8 | (sps.bitDepthChroma - 8)),
    // avgFrameRate 0 (unspecified); constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3.
    u16(0),
    u8((sps.maxSubLayers << 3) | (sps.temporalIdNesting ? 4 : 0) | 3),
    u8(present.length),
  ]
  for (const [type, nals] of present) {
    if (nals.length > 0xffff) throw new MqaError(ErrorCode.VALUE_RANGE, `hvcC array of NAL type ${type} has ${nals.length} units`)
    parts.push(u8((complete ? 0x80 : 0) | type), u16(nals.length), ...nals.map((n) => lengthPrefixed16(n, `NAL type ${type}`)))
  }
  return box('hvcC', ...parts)
}

/** ISO/IEC 14496-3 Table 1.16: samplingFrequencyIndex 0..12. */
export const AAC_SAMPLE_RATES: readonly number[] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

export interface AacConfig {
  readonly audioObjectType: number
  readonly sampleRate: number
  readonly channels: number
}

/** AudioSpecificConfig (14496-3 §1.6.2.1) with a GASpecificConfig of 1024-sample frames. */
export function buildAudioSpecificConfig(config: AacConfig): Uint8Array {
  const { audioObjectType: aot, sampleRate, channels } = config
  if (!Number.isInteger(aot) || aot < 1 || aot > 30) throw new MqaError(ErrorCode.VALUE_RANGE, `audioObjectType ${aot} is not in 1..30`)
  if (!Number.isInteger(channels) || channels < 0 || channels > 7) throw new MqaError(ErrorCode.VALUE_RANGE, `AAC channel configuration ${channels} is not in 0..7`)
  const index = AAC_SAMPLE_RATES.indexOf(sampleRate)
  if (index < 0 && (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0xff_ffff)) {
    throw new MqaError(ErrorCode.VALUE_RANGE, `AAC sample rate ${sampleRate} Hz cannot be written`)
  }
  // Bits: aot(5) frequencyIndex(4) [frequency(24)] channels(4) frameLength(1) dependsOnCore(1) extension(1)
  const bits: [number, number][] = [[aot, 5]]
  if (index >= 0) bits.push([index, 4])
  else bits.push([15, 4], [sampleRate, 24])
  bits.push([channels, 4], [0, 3])
  let total = 0
  for (const [, n] of bits) total += n
  const out = new Uint8Array(Math.ceil(total / 8))
  let pos = 0
  for (const [value, n] of bits) {
    for (let i = n - 1; i >= 0; i--) {
      if (Math.floor(value / 2 ** i) % 2) out[pos >> 3]! |= 0x80 >> (pos & 7)
      pos++
    }
  }
  return out
}

/** An MPEG-4 descriptor (14496-1 §8.3.3): tag, expandable size, body. */
function descriptor(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concatBytes(parts)
  const sizeBytes: number[] = []
  let size = body.length
  do {
    sizeBytes.unshift(size & 0x7f)
    size >>>= 7
  } while (size > 0)
  for (let i = 0; i < sizeBytes.length - 1; i++) sizeBytes[i]! |= 0x80
  return concatBytes([u8(tag, ...sizeBytes), body])
}

export interface EsdsOptions {
  readonly trackId?: number
  /** Bitrates for the DecoderConfigDescriptor, bits per second (0 = unknown). */
  readonly maxBitrateBps?: number
  readonly avgBitrateBps?: number
}

/** The `esds` box: ES_Descriptor → DecoderConfigDescriptor (AAC, audio) → AudioSpecificConfig. */
export function buildEsds(config: AacConfig, options: EsdsOptions = {}): Uint8Array {
  const asc = buildAudioSpecificConfig(config)
  const decoderConfig = descriptor(
    0x04,
    // objectTypeIndication 0x40 (MPEG-4 Audio); streamType 5 (audio) << 2 | upStream 0 | reserved 1.
    u8(0x40, 0x15),
    u8(0, 0, 0), // bufferSizeDB
    u32(options.maxBitrateBps ?? 0, options.avgBitrateBps ?? 0),
    descriptor(0x05, asc),
  )
  const es = descriptor(0x03, u16(options.trackId ?? 0), u8(0), decoderConfig, descriptor(0x06, u8(2)))
  return fullBox('esds', 0, 0, es)
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0')
}

/** RFC 6381 `avc1.PPCCLL` (or `avc3.`): profile, constraint byte and level straight from the SPS. */
export function h264CodecsString(sps: Uint8Array, sampleEntry: 'avc1' | 'avc3' = 'avc1'): string {
  if (sps.length < 4) throw new MqaError(ErrorCode.NAL_TRUNCATED, `H.264 SPS of ${sps.length} bytes has no profile/level`)
  return `${sampleEntry}.${hex2(sps[1]!)}${hex2(sps[2]!)}${hex2(sps[3]!)}`
}

/** Bits 0..31 in reverse order (flag[0], the MSB, becomes bit 0). */
function reverseBits32(value: number): number {
  let out = 0
  for (let i = 0; i < 32; i++) out = out * 2 + (Math.floor(value / 2 ** i) % 2)
  return out
}

/**
 * 14496-15 Annex E codecs string: `hvc1.<space letter><profile>.<compatibility flags, bit-reversed,
 * hex>.<L|H><level>.<constraint bytes in hex, trailing zero bytes left out>`, e.g. hvc1.1.6.L93.B0.
 */
export function h265CodecsString(sps: H265Sps | Uint8Array, sampleEntry: 'hvc1' | 'hev1' = 'hvc1'): string {
  const s = sps instanceof Uint8Array ? parseH265Sps(sps) : sps
  const space = ['', 'A', 'B', 'C'][s.profileSpace] ?? ''
  const compat = reverseBits32(s.profileCompatibilityFlags).toString(16).toUpperCase()
  const constraints = Array.from(s.constraintIndicatorFlags)
  while (constraints.length > 0 && constraints.at(-1) === 0) constraints.pop()
  const tail = constraints.map((b) => `.${b.toString(16).toUpperCase()}`).join('')
  return `${sampleEntry}.${space}${s.profileIdc}.${compat}.${s.tierFlag ? 'H' : 'L'}${s.levelIdc}${tail}`
}

/** RFC 6381 for MPEG-4 audio: `mp4a.40.<audioObjectType>` (40 = objectTypeIndication 0x40). */
export function aacCodecsString(audioObjectType: number): string {
  return `mp4a.40.${audioObjectType}`
}

export interface ParameterSets {
  readonly vps?: Uint8Array | undefined
  readonly sps?: Uint8Array | undefined
  readonly pps?: Uint8Array | undefined
}

/** The first VPS/SPS/PPS among an access unit's NAL units (e.g. ClosedSegment.keyFrameNals). */
export function findParameterSets(codec: VideoCodec, nals: readonly NalUnit[]): ParameterSets {
  const pick = (type: number) => nals.find((n) => n.type === type)?.data
  if (codec === VideoCodec.H264) return { sps: pick(H264NalType.SPS), pps: pick(H264NalType.PPS) }
  return { vps: pick(H265NalType.VPS), sps: pick(H265NalType.SPS), pps: pick(H265NalType.PPS) }
}

export interface VideoTrackInput {
  readonly codec: VideoCodec
  readonly parameterSets: ParameterSets
  /** Frame rate, when known; else the SPS timing info; else 25/1. */
  readonly frameRate?: { readonly num: number; readonly den: number } | undefined
  /** Sample entry the codecs string names: out-of-band ('avc1'/'hvc1', default) or in-band ('avc3'/'hev1'). */
  readonly inBandParameterSets?: boolean
}

/** A VideoTrackInfo filled from the stream's own parameter sets (size after cropping, codecs string). */
export function videoTrackInfoFrom(input: VideoTrackInput): VideoTrackInfo {
  const { codec, parameterSets: ps } = input
  if (!ps.sps || !ps.pps) throw new MqaError(ErrorCode.VALUE_RANGE, `${codec} track needs an SPS and a PPS`)
  if (codec === VideoCodec.H264) {
    const sps = parseH264Sps(ps.sps)
    return {
      kind: 'video',
      codec,
      width: sps.width,
      height: sps.height,
      sps: ps.sps,
      pps: ps.pps,
      codecsString: h264CodecsString(ps.sps, input.inBandParameterSets ? 'avc3' : 'avc1'),
      frameRate: input.frameRate ?? sps.frameRate ?? { num: 25, den: 1 },
    }
  }
  if (!ps.vps) throw new MqaError(ErrorCode.VALUE_RANGE, 'h265 track needs a VPS')
  const sps = parseH265Sps(ps.sps)
  return {
    kind: 'video',
    codec,
    width: sps.width,
    height: sps.height,
    vps: ps.vps,
    sps: ps.sps,
    pps: ps.pps,
    codecsString: h265CodecsString(sps, input.inBandParameterSets ? 'hev1' : 'hvc1'),
    frameRate: input.frameRate ?? sps.frameRate ?? { num: 25, den: 1 },
  }
}

/** An AudioTrackInfo for AAC (e.g. from the first ADTS header). */
export function audioTrackInfoFrom(config: AacConfig): AudioTrackInfo {
  buildAudioSpecificConfig(config) // validates
  return { kind: 'audio', codec: 'aac', sampleRate: config.sampleRate, channels: config.channels, audioObjectType: config.audioObjectType, codecsString: aacCodecsString(config.audioObjectType) }
}
