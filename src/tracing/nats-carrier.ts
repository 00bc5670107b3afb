/**
 * NATS message headers as an OpenTelemetry propagation carrier: the client's setter writes what the
 * global propagator injects (W3C `traceparent`, `tracestate`, `baggage` with the default composite),
 * the server's getter reads it back from the headers the request plane has already read and
 * bounded (message-headers.ts). Names are matched case-insensitively on read, as in HTTP.
 */
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { Match, type MsgHdrs } from '@nats-io/transport-node';

export const natsHeaderSetter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

export const natsHeaderGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys(carrier) {
    return carrier === undefined ? [] : carrier.keys();
  },
  get(carrier, key) {
    if (carrier === undefined) return undefined;
    const values = carrier.values(key, Match.IgnoreCase);
    if (values.length === 0) return undefined;
    return values.length === 1 ? values[0] : values;
  },
};
