export { parseFlags, helpText, UsageError } from './flags.js'
