export * from './hls.js'
export * from './dash.js'
