/**
 * The errors of the encoder's shell (`mqa encode`, `source`, `impair`, `inspect`): a `code` from
 * the error tables in docs/errors.md and `fatal` (always: the run stops). Not `MqaError`, which
 * is common's for parse errors a stage may count and live through; the CLI prints either kind as
 * one line.
 */
export class ShellError<C extends string = string> extends Error {
  readonly code: C
  readonly fatal = true

  /** `name` is the subclass's: `EncodeError`, `InputError`, ... */
  constructor(code: C, message: string, options: { cause?: unknown } = {}) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}
