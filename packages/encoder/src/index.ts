export * from './io/beamcoder.js'
