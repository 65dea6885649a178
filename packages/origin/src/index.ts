export * from './selector.js'
export { startOrigin, type OriginOptions, type OriginHandle, type OriginStatus } from './io/origin.js'
