export * from './selector.js'
