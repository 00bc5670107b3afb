/**
 * The system status server: `/metrics` (Prometheus text), `/health` (readiness), `/live`
 * (liveness). Plain `node:http`, bounded timeouts so slow or malicious clients cannot pin it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline, type Writable } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { ExpositionFormat } from '../metrics/prometheus-serializer.ts';
import type { HealthReport } from './health.ts';

export interface StatusServerOptions {
  /** Address to bind. */
  host: string;
  /** Port to bind; 0 picks a free one (see `port` after `start()`). */
  port: number;
  logger: Logger;
  /** Renders the exposition in chunks, in the format the scraper negotiated; may throw before the first one. */
  metrics: (format: ExpositionFormat) => AsyncIterable<string>;
  /** Current readiness. */
  health: () => HealthReport;
}

/** The content type of the Prometheus text exposition (format 0.0.4) that `/metrics` sends. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** The content type of the OpenMetrics 1.0 exposition `/metrics` sends to a scraper that asks for it (Prometheus does). */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const ROUTES = new Set(['/metrics', '/health', '/live']);

export class SystemStatusServer {
  private readonly options: StatusServerOptions;
  private server: Server | undefined;
  private boundPort: number | undefined;

  constructor(options: StatusServerOptions) {
    this.options = options;
  }

  /** The bound port; after `start()`. */
  get port(): number {
    if (this.boundPort === undefined) throw new DynamoError(ErrorCode.SystemServer, 'the system status server is not started');
    return this.boundPort;
  }

  async start(): Promise<void> {
    const { host, port, logger } = this.options;
    // Slow or oversized requests are cut off: headers within 5 s (checked every second, not
    // Node's default 30), a whole request within 10 s, headers at most 16 KiB.
    const server = createServer(
      { requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000, maxHeaderSize: 16_384 },
      (req, res) => {
        this.handle(req, res);
      },
    );
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      logger.debug('status server: bad HTTP request', { error: err });
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        server.off('listening', onListening);
        const where = `${host}:${port}`;
        reject(
          err.code === 'EADDRINUSE' || err.code === 'EACCES'
            ? new DynamoError(
                ErrorCode.PortInUse,
                `system status server cannot bind ${where} (${err.code}); choose another port with DYN_SYSTEM_PORT (0 picks a free one)`,
                { cause: err },
              )
            : new DynamoError(ErrorCode.SystemServer, `system status server cannot listen on ${where}: ${err.message}`, { cause: err }),
        );
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, host);
    });
    server.on('error', (err) => logger.error('status server error', { error: err }));
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    logger.info('system status server listening', { host, port: this.boundPort, url: `http://${host}:${this.boundPort}/metrics` });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (!ROUTES.has(path)) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    const head = req.method === 'HEAD';
    switch (path) {
      case '/live':
        return send(res, 200, 'application/json', '{"status":"live"}\n', head);
      case '/health': {
        const report = this.options.health();
        return send(res, report.status === 'ready' ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`, head);
      }
      default:
        void this.serveMetrics(req, res, head);
    }
  }

  /**
   * Streams the exposition chunk by chunk, honouring backpressure, gzipped (off the main thread)
   * when the scraper accepts it, as Prometheus does. A failure before the first chunk is an error
   * status; after it, the connection is cut so the scrape fails rather than looking complete.
   */
  private async serveMetrics(req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
    let chunks: AsyncIterator<string>;
    let first: IteratorResult<string>;
    const format = negotiateFormat(req.headers.accept);
    try {
      chunks = this.options.metrics(format)[Symbol.asyncIterator]();
      first = await chunks.next();
    } catch (err) {
      // A setup problem we can name is worth showing to whoever looks at the endpoint; in the log
      // it is said once (a scraper retries every few seconds), an unexpected failure every time.
      const known = err instanceof DynamoError;
      if (known) this.options.logger.once(`metrics-unavailable:${err.code}`, 'warn', '/metrics unavailable', { error: err });
      else this.options.logger.error('rendering /metrics failed', { error: err });
      return send(res, known ? 503 : 500, 'text/plain; charset=utf-8', known ? `${err.message}\n` : 'metrics collection failed\n', head);
    }
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    res.statusCode = 200;
    res.setHeader('Content-Type', format === ExpositionFormat.OpenMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Accept, Accept-Encoding');
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    if (head) {
      void chunks.return?.();
      res.end();
      return;
    }
    const out: Writable = gzip ? createGzip() : res;
    if (gzip) pipeline(out as Gzip, res, () => {});
    try {
      for (let step = first; step.done !== true; step = await chunks.next()) {
        if (res.destroyed) return void chunks.return?.();
        if (!out.write(step.value)) await drainedOrClosed(out, res);
      }
      out.end();
    } catch (err) {
      this.options.logger.error('rendering /metrics failed part-way', { error: err });
      res.destroy();
    }
  }
}

/**
 * OpenMetrics 1.0 when the Accept header offers `application/openmetrics-text` (version 1.0.0, or
 * none) at a quality above `text/plain`'s — or equal and listed first; Prometheus text 0.0.4
 * otherwise, whatever else it says (a missing or unparsable header included).
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined) return ExpositionFormat.Text;
  let openMetrics = 0;
  let text = 0;
  let openMetricsFirst = false;
  for (const range of accept.split(',')) {
    const [type, ...params] = range.trim().toLowerCase().split(';').map((p) => p.trim());
    const param = (name: string): string | undefined => params.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1).replace(/^"|"$/g, '');
    const qText = param('q');
    const q = qText === undefined ? 1 : Number(qText);
    if (!(q > 0 && q <= 1)) continue;
    if (type === 'application/openmetrics-text') {
      const version = param('version');
      if (version !== undefined && version !== '1.0.0') continue;
      if (q > openMetrics) {
        if (text === 0) openMetricsFirst = true;
        openMetrics = q;
      }
    } else if (type === 'text/plain') {
      text = Math.max(text, q);
    }
  }
  return openMetrics > text || (openMetrics > 0 && openMetrics === text && openMetricsFirst) ? ExpositionFormat.OpenMetrics : ExpositionFormat.Text;
}

/** `gzip` listed in Accept-Encoding, and not refused with `q=0`. */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Resolves when `out` can take more or the response is gone; leaves no listener behind either way. */
function drainedOrClosed(out: Writable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      res.off('close', done);
      resolve();
    };
    out.on('drain', done);
    res.on('close', done);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head = false): void {
  if (res.destroyed) return;
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(head ? undefined : body);
}
