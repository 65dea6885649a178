#!/usr/bin/env node
/**
 * The floor beamcoder sets under `mqa encode`: the same work in FFmpeg's libraries (demux, decode,
 * libx264 with the settings mqa gives it, decode of its own output) through beamcoder 0.7.1, and
 * nothing else: no pairing, no metrics, no SEI, no muxing, no analysis. Frames are released as
 * soon as they are used (`Frame.release`, added by the patch), as mqa releases them. scripts/bench/encoder.js
 * --breakdown times it beside (a) and (b), so what (b) costs above the ffmpeg CLI splits into
 * what beamcoder's per-frame objects cost and what mqa's own pipeline costs.
 *
 *   node scripts/bench/beamcoder-floor.js <input> <gop-frames> <bframes> <preset> <bitrate b/s>
 *
 * Prints one JSON line on stderr: frames in, packets out, frames decoded again.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
// The module alone, not the package's index: the floor should load no more than it runs.
const { videoEncoderOptions } = await import(new URL('../../packages/encoder/dist/video-encoder-options.js', import.meta.url).href)
const [input, gopArg, bframesArg, preset, bitrateArg] = process.argv.slice(2)
if (!input || !gopArg || !bframesArg || !preset || !bitrateArg) {
  console.error('usage: node scripts/bench/beamcoder-floor.js <input> <gop-frames> <bframes> <preset> <bitrate b/s>')
  process.exit(2)
}
const gop = Number(gopArg)
const bframes = Number(bframesArg)

// beamcoder prints a banner with console.log when it loads; stdout stays quiet.
const require = createRequire(path.join(REPO_ROOT, 'packages/encoder/package.json'))
const log = console.log
console.log = () => undefined
/** @type {any} */
const b = require('beamcoder')
console.log = log
b.logging('fatal') // as mqa does

const demuxer = await b.demuxer(input)
const videoIndex = demuxer.streams.findIndex((/** @type {any} */ s) => s.codecpar.codec_type === 'video')
const video = demuxer.streams[videoIndex]
const decoder = b.decoder({ demuxer, stream_index: videoIndex, thread_count: 0 })
const [rateNum, rateDen] = video.avg_frame_rate
/** @type {any} */
let encoder
/** @type {any} */
let recon
let frames = 0
let packets = 0
let decodedAgain = 0

/** @param {any[]} out */
async function decodeAgain(out) {
  packets += out.length
  for (const p of out) {
    const again = (await recon.decode(p)).frames
    decodedAgain += again.length
    for (const f of again) f.release()
  }
}

/** @param {any} frame */
async function encodeFrame(frame) {
  // The encoder mqa opens, from the same options (IDRs forced on the grid below, no scenecut).
  encoder ??= b.encoder(videoEncoderOptions({
    codec: 'h264', width: frame.width, height: frame.height, rate: { num: rateNum, den: rateDen },
    bitrateKbps: Number(bitrateArg) / 1000, preset, gopFrames: gop, bframes, globalHeader: false,
  }))
  recon ??= b.decoder({ name: 'h264', thread_count: 1 })
  frame.pts = frames
  frame.pict_type = frames % gop === 0 ? 'I' : null
  frames++
  const encoded = await encoder.encode(frame)
  // As mqa does (the patch's Frame.release): the picture goes back to the decoder's pool now.
  frame.release()
  await decodeAgain(encoded.packets)
}

for (;;) {
  const packet = await demuxer.read()
  if (!packet) break
  if (packet.stream_index !== videoIndex) continue
  for (const frame of (await decoder.decode(packet)).frames) await encodeFrame(frame)
}
for (const frame of (await decoder.flush()).frames) await encodeFrame(frame)
await decodeAgain((await encoder.flush()).packets)
decodedAgain += (await recon.flush()).frames.length
process.stderr.write(`${JSON.stringify({ msg: 'floor done', frames, packets, decodedAgain })}\n`)
