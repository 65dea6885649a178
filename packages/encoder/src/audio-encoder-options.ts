/**
 * How mqa encodes audio to AAC, as pure rules: the channel layout the AAC stream carries and the
 * default bitrate for it. io/encode.ts opens FFmpeg's native `aac` encoder from them.
 */

/**
 * The AAC layout for an input with `channels` channels: one of the layouts an AAC
 * channel_configuration names (ISO/IEC 14496-3 Table 1.19), so players and the packager (which
 * reads channel_configuration) know it without a program_config_element. Up to 5.1 and 7.1 the
 * channels are kept (5.1(side) is carried as 5.1, its side channels in the surround places); 7
 * channels (6.1) are mixed down to 5.1 and more than 8 to 7.1.
 */
export function aacLayout(channels: number): { layout: string; channels: number } {
  const layouts: Record<number, string> = { 1: 'mono', 2: 'stereo', 3: '3.0', 4: '4.0', 5: '5.0', 6: '5.1', 8: '7.1' }
  if (channels >= 8) return { layout: '7.1', channels: 8 }
  if (channels === 7) return { layout: '5.1', channels: 6 }
  return { layout: layouts[Math.max(1, channels)]!, channels: Math.max(1, channels) }
}

/** The AAC bitrate when `--audio-bitrate` is not given: 128 kb/s for mono and stereo, 64 kb/s a channel above (5.1: 384). */
export function defaultAacBitrateKbps(channels: number): number {
  return channels <= 2 ? 128 : 64 * channels
}
