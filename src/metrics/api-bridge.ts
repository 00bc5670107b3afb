/**
 * The endpoint metrics through the plain `@opentelemetry/api`, for a provider we do not own:
 * counters and up-down counters are observable instruments reading the recorder's numbers at
 * collection time (one batch callback per endpoint), the histogram is a real one fed by the
 * recorder. Derived from the one table of automatic metrics (names.ts): names, units,
 * descriptions, attributes and buckets are those of every other rendering.
 */
import type { BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import { AUTOMATIC_METRICS, AutomaticType, type AutomaticMetric } from './names.ts';

/** Registers endpoint `r` on `meter`; returns what unregisters it (the histogram's series stay: the API cannot remove a synchronous instrument). */
export function bridgeToApi(meter: Meter, r: EndpointRecorder): () => void {
  const observed: Array<[AutomaticMetric, Observable]> = [];
  let sink: ((seconds: number) => void) | undefined;
  for (const metric of AUTOMATIC_METRICS) {
    const options = { description: metric.help, unit: metric.unit };
    switch (metric.type) {
      case AutomaticType.Histogram: {
        const histogram = meter.createHistogram(metric.name, { ...options, advice: { explicitBucketBoundaries: Array.from(r.bounds) } });
        const attributes = r.attributes;
        sink = (seconds) => histogram.record(seconds, attributes);
        break;
      }
      case AutomaticType.UpDownCounter:
        observed.push([metric, meter.createObservableUpDownCounter(metric.name, options)]);
        break;
      default:
        observed.push([metric, meter.createObservableCounter(metric.name, options)]);
    }
  }
  const observables = observed.map(([, instrument]) => instrument);
  const callback: BatchObservableCallback = (result) => {
    for (const [metric, instrument] of observed) {
      if (metric.perErrorType === true) {
        for (let i = 0; i < r.errors.length; i++) result.observe(instrument, r.errors[i]!, r.errorAttributes[i]!);
      } else {
        result.observe(instrument, metric.read!(r), r.attributes);
      }
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  r.durationSink = sink;
  return () => {
    meter.removeBatchObservableCallback(callback, observables);
    if (r.durationSink === sink) r.durationSink = undefined;
  };
}
