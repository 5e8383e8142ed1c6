/** Stable error codes. Scripts and tests match on these, never on message text. */
export const ERROR_CODES = [
  'BAD_INPUT',
  'VALIDATION_FAILED',
  'NOT_FOUND',
  'CONFLICT',
  'QUOTA_EXCEEDED',
  'INTEGRITY',
  'DECRYPT_FAILED',
  'CORRUPT',
  'LOCKED',
  'CLOSED',
  'UNSUPPORTED',
  'UNAVAILABLE',
  'TIMEOUT',
  'MIGRATION_FAILED',
] as const;

export type StrataErrorCode = (typeof ERROR_CODES)[number];

export interface StrataErrorOptions {
  /** The public operation that failed, e.g. `kv.set`. */
  op?: string;
  /** The driver that reported the failure, e.g. `sqlite`. */
  driver?: string;
  /** What the user can do about it. */
  hint?: string;
  /** The underlying error, kept so nothing is lost on rethrow. */
  cause?: unknown;
  /** Structured details (paths, keys, issues) for programs. */
  details?: Record<string, unknown>;
}

/** Every failure a user can act on. */
export class StrataError extends Error {
  override readonly name = 'StrataError';
  readonly code: StrataErrorCode;
  readonly op: string | undefined;
  readonly driver: string | undefined;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: StrataErrorCode, message: string, options: StrataErrorOptions = {}) {
    super(options.hint ? `${message} (${options.hint})` : message, { cause: options.cause });
    this.code = code;
    this.op = options.op;
    this.driver = options.driver;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** Type guard that optionally narrows to one code. */
  static is(error: unknown, code?: StrataErrorCode): error is StrataError {
    return error instanceof StrataError && (code === undefined || error.code === code);
  }
}

/** The message of `error` without the ` (hint)` the constructor appends: for refusals and reports that reword it. */
export function bareMessage(error: StrataError): string {
  return error.hint !== undefined && error.message.endsWith(` (${error.hint})`)
    ? error.message.slice(0, -(error.hint.length + 3))
    : error.message;
}

/** Re-tags a StrataError with the public operation name, or wraps anything else. */
export function withOp(error: unknown, op: string, driver?: string): StrataError {
  if (error instanceof StrataError) {
    if (error.op === undefined) (error as { op: string | undefined }).op = op;
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StrataError('UNAVAILABLE', `${op} failed: ${message}`, {
    op,
    driver,
    cause: error,
    hint: 'the backend reported an unexpected error; see `cause`',
  });
}
