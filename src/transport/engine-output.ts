/**
 * What a handler (an engine) returned: a promise, a stream of responses, or one value — told apart
 * here, once, for the endpoint server.
 */

export function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

/**
 * A sync generator (or any iterator object) streams like an async one. Arrays and strings are
 * iterable but not iterators: they stay one response, as a value.
 */
function isSyncIterator(v: unknown): v is Iterator<unknown, unknown> & Iterable<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { next?: unknown }).next === 'function' && typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** A stream of responses: an async iterable, or a sync iterator (a generator). */
export type ResponseSource = AsyncIterable<unknown> | Iterator<unknown, unknown>;

export function isStream(v: unknown): v is ResponseSource {
  return isAsyncIterable(v) || isSyncIterator(v);
}

/** The responses of a stream, one async step at a time. */
export function responsesOf(source: ResponseSource): AsyncIterator<unknown, unknown> {
  if (isAsyncIterable(source)) return source[Symbol.asyncIterator]();
  const it = source;
  return {
    next: () => Promise.resolve(it.next()),
    return: (value?: unknown) => Promise.resolve(it.return?.(value) ?? { done: true as const, value }),
  };
}

/** What an error reply says of what a handler threw (anything can be thrown). */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  try {
    return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
