/** Typed errors of the gdb remote protocol client. Each message names the cause and, where known, the fix. */
export class RspError extends Error {
  override readonly name: string = 'RspError';
}
export class RspTimeoutError extends RspError {
  override readonly name = 'RspTimeoutError';
}
export class RspChecksumError extends RspError {
  override readonly name = 'RspChecksumError';
}
export class RspClosedError extends RspError {
  override readonly name = 'RspClosedError';
}
export class RspProtocolError extends RspError {
  override readonly name = 'RspProtocolError';
}
/** The stub answered `E NN`. */
export class RspStubError extends RspError {
  override readonly name = 'RspStubError';
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}
