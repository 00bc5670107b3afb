/**
 * The automatic metrics through the plain `@opentelemetry/api`, for a provider we do not own:
 * counters and up-down counters are observable instruments reading the recorder's numbers at
 * collection time (one batch callback per recorder), each histogram is a real one fed by the
 * recorder. Derived from the recorder's table (names.ts, client-names.ts): names, units,
 * descriptions, attributes and buckets are those of every other rendering.
 */
import type { BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import type { HistogramRecorder } from './histogram-recorder.ts';
import { AutomaticType, type AutomaticMetric, type MetricsRecorder } from './names.ts';

/** Registers recorder `r` on `meter`; returns what unregisters it (the histograms' series stay: the API cannot remove a synchronous instrument). */
export function bridgeToApi(meter: Meter, r: MetricsRecorder): () => void {
  const observed: Array<[AutomaticMetric<MetricsRecorder>, Observable]> = [];
  const sinks: Array<[HistogramRecorder, (seconds: number) => void]> = [];
  for (const metric of r.table as readonly AutomaticMetric<MetricsRecorder>[]) {
    const options = { description: metric.help, unit: metric.unit };
    if (metric.histogram !== undefined) {
      const recorder = metric.histogram(r);
      const histogram = meter.createHistogram(metric.name, { ...options, advice: { explicitBucketBoundaries: Array.from(recorder.bounds) } });
      const attributes = r.attributes;
      sinks.push([recorder, (seconds) => histogram.record(seconds, attributes)]);
    } else if (metric.type === AutomaticType.UpDownCounter) {
      observed.push([metric, meter.createObservableUpDownCounter(metric.name, options)]);
    } else {
      observed.push([metric, meter.createObservableCounter(metric.name, options)]);
    }
  }
  const observables = observed.map(([, instrument]) => instrument);
  const callback: BatchObservableCallback = (result) => {
    for (const [metric, instrument] of observed) {
      if (metric.labelled !== undefined) {
        const counts = metric.labelled.counts(r);
        const attributes = r.seriesAttributes(metric as AutomaticMetric<never>);
        for (let i = 0; i < counts.length; i++) result.observe(instrument, counts[i]!, attributes[i]!);
      } else {
        result.observe(instrument, metric.read!(r), r.attributes);
      }
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  for (const [recorder, sink] of sinks) recorder.sink = sink;
  return () => {
    meter.removeBatchObservableCallback(callback, observables);
    for (const [recorder, sink] of sinks) if (recorder.sink === sink) recorder.sink = undefined;
  };
}
