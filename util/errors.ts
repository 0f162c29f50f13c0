/** A bad command line or option value: printed as one line with the usage hint. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
