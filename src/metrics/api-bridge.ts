/**
 * The endpoint metrics through the plain `@opentelemetry/api`, for a provider we do not own:
 * counters and in-flight are observable instruments reading the recorder's numbers at collection
 * time (one batch callback per endpoint), the duration is a real histogram fed by the recorder.
 * Names, units, descriptions, attributes and buckets are those of the embedded path.
 */
import type { BatchObservableCallback, Meter } from '@opentelemetry/api';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import { EndpointMetric } from './names.ts';

/** Registers endpoint `r` on `meter`; returns what unregisters it (the duration histogram's series stay: the API cannot remove a synchronous instrument). */
export function bridgeToApi(meter: Meter, r: EndpointRecorder): () => void {
  const opts = (spec: { help: string; unit: string }) => ({ description: spec.help, unit: spec.unit });
  const requests = meter.createObservableCounter(EndpointMetric.requests.name, opts(EndpointMetric.requests));
  const requestBytes = meter.createObservableCounter(EndpointMetric.requestBytes.name, opts(EndpointMetric.requestBytes));
  const responseBytes = meter.createObservableCounter(EndpointMetric.responseBytes.name, opts(EndpointMetric.responseBytes));
  const errors = meter.createObservableCounter(EndpointMetric.errors.name, opts(EndpointMetric.errors));
  const inflight = meter.createObservableUpDownCounter(EndpointMetric.inflight.name, opts(EndpointMetric.inflight));
  const observables = [requests, requestBytes, responseBytes, errors, inflight];
  const callback: BatchObservableCallback = (result) => {
    result.observe(requests, r.requests, r.attributes);
    result.observe(requestBytes, r.requestBytes, r.attributes);
    result.observe(responseBytes, r.responseBytes, r.attributes);
    for (let i = 0; i < r.errors.length; i++) result.observe(errors, r.errors[i]!, r.errorAttributes[i]!);
    result.observe(inflight, r.inflight, r.attributes);
  };
  meter.addBatchObservableCallback(callback, observables);
  const duration = meter.createHistogram(EndpointMetric.duration.name, {
    ...opts(EndpointMetric.duration),
    advice: { explicitBucketBoundaries: Array.from(r.bounds) },
  });
  const attributes = r.attributes;
  const sink = (seconds: number): void => duration.record(seconds, attributes);
  r.durationSink = sink;
  return () => {
    meter.removeBatchObservableCallback(callback, observables);
    if (r.durationSink === sink) r.durationSink = undefined;
  };
}
