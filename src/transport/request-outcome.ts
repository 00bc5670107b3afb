/**
 * How a request ended for its caller, classified for its CLIENT span the way the metrics count
 * it: a cancellation — by the caller, or the server giving up on a reader that stopped reading,
 * or shutting down — is never an error.
 */
import { DynamoError, ErrorCode, RemoteError } from '../errors.ts';
import { RemoteErrorType } from './protocol.ts';
import { CancelReason } from '../metrics/names.ts';
import { OK, type RequestOutcome } from './request-tracing.ts';

const CANCELLED_BY_CLIENT: RequestOutcome = Object.freeze({ kind: 'cancelled', reason: CancelReason.Client });
const ABANDONED: RequestOutcome = Object.freeze({ kind: 'cancelled', reason: CancelReason.Stall });
const SHUT_DOWN: RequestOutcome = Object.freeze({ kind: 'cancelled', reason: CancelReason.Shutdown });

/** `error`: what the stream failed with (undefined when it ended); `cancel`: the caller asked the server to stop. */
export function outcomeOf(error: unknown, cancel: boolean): RequestOutcome {
  if (error === undefined) return cancel ? CANCELLED_BY_CLIENT : OK;
  if (error instanceof RemoteError) {
    if (error.errorType === RemoteErrorType.Cancelled) return ABANDONED;
    if (error.errorType === RemoteErrorType.ShuttingDown) return SHUT_DOWN;
    return { kind: 'error', errorType: error.errorType };
  }
  if (error instanceof DynamoError) return error.code === ErrorCode.Cancelled ? CANCELLED_BY_CLIENT : { kind: 'error', errorType: error.code };
  return { kind: 'error', errorType: '_OTHER' };
}
