import { describe, expect, it } from 'vitest'
import { aacLayout, defaultAacBitrateKbps } from '../src/audio-encoder-options.js'

describe('AAC layout and bitrate', () => {
  it('keeps the channels of every layout an AAC channel_configuration names', () => {
    expect([1, 2, 3, 4, 5, 6, 8].map(aacLayout)).toEqual([
      { layout: 'mono', channels: 1 },
      { layout: 'stereo', channels: 2 },
      { layout: '3.0', channels: 3 },
      { layout: '4.0', channels: 4 },
      { layout: '5.0', channels: 5 },
      { layout: '5.1', channels: 6 },
      { layout: '7.1', channels: 8 },
    ])
  })
  it('mixes 6.1 down to 5.1 and more than 8 channels to 7.1', () => {
    expect(aacLayout(7)).toEqual({ layout: '5.1', channels: 6 })
    expect(aacLayout(16)).toEqual({ layout: '7.1', channels: 8 })
  })
  it('defaults to 128 kb/s up to stereo, 64 kb/s a channel above', () => {
    expect([1, 2, 6, 8].map(defaultAacBitrateKbps)).toEqual([128, 128, 384, 512])
  })
})
