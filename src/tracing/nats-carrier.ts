/**
 * NATS message headers as an OpenTelemetry propagation carrier, read side: the server's getter
 * reads what the caller's propagator wrote (W3C `traceparent`, `tracestate`, `baggage` with the
 * default composite) from the headers the request plane has already read and bounded
 * (message-headers.ts). Names are matched case-insensitively, as in HTTP. The write side is the
 * client tracer's setter, which also counts what it wrote.
 */
import type { TextMapGetter } from '@opentelemetry/api';
import type { HeaderBlock } from '../transport/header-block.ts';

export const natsHeaderGetter: TextMapGetter<HeaderBlock | undefined> = {
  keys(carrier) {
    return carrier === undefined ? [] : carrier.keys();
  },
  get(carrier, key) {
    if (carrier === undefined) return undefined;
    const values = carrier.values(key, true);
    if (values.length === 0) return undefined;
    return values.length === 1 ? values[0] : values;
  },
};
