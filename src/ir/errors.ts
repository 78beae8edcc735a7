// Errors raised at the call that caused them. Messages name the op, the shapes and the dtypes involved,
// so a user can tell which line of their program is wrong without reading wgfuse's code.

export class WgfuseError extends Error {
  override name = 'WgfuseError';
}

/** Shapes that cannot work together: broadcasting, matmul inner dims, reshape sizes, axes. */
export class ShapeError extends WgfuseError {
  override name = 'ShapeError';
}

/** A dtype an op does not accept, or data that does not fit the requested dtype. */
export class DTypeError extends WgfuseError {
  override name = 'DTypeError';
}

/** A malformed argument that is neither a shape nor a dtype problem (bad data, bad option). */
export class ArgumentError extends WgfuseError {
  override name = 'ArgumentError';
}

/**
 * The IR text could not be parsed; line and column are 1-based. `reason` is the message without the position,
 * and `length` the number of characters of the offending token (at least 1), for a caret under it.
 */
export class ParseError extends WgfuseError {
  override name = 'ParseError';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    readonly length = 1,
  ) {
    super(`${line}:${column}: ${reason}`);
  }
}

/** A graph broke an IR invariant; always a bug in wgfuse or in hand-written IR, never in user code. */
export class VerifyError extends WgfuseError {
  override name = 'VerifyError';
}
