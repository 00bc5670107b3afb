/**
 * Tracing is advice: whatever the application's tracer provider, span processors or propagator
 * throw, the request goes on as if untraced. Each failure is reported once per endpoint through
 * OpenTelemetry's `diag` (where an SDK's own problems go), never thrown into the request plane.
 */
import { diag } from '@opentelemetry/api';

export class TracingFailures {
  private readonly where: string;
  private reported = false;

  constructor(where: string) {
    this.where = where;
  }

  report(step: string, error: unknown): void {
    if (this.reported) return;
    this.reported = true;
    diag.warn(`dynamo-otel: tracing of ${this.where} failed in ${step}; requests go on untraced where it fails (reported once)`, error);
  }
}
