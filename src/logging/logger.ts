/**
 * Structured logging: one JSON object per line on stderr, so log shippers need no parser
 * configuration. The level comes from `DYN_LOG` (see config/env.ts).
 */
/** Log levels, most severe first; a logger writes its level and the ones above it. */
export const LogLevel = {
  /** Failures. */
  Error: 'error',
  /** Something to look at; the default. */
  Warn: 'warn',
  /** Lifecycle: started, serving, shutting down. */
  Info: 'info',
  /** Per-request detail, e.g. bad input dropped. */
  Debug: 'debug',
  /** Everything. */
  Trace: 'trace',
} as const;
/** One of the {@link LogLevel} values. */
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

const SEVERITY: Record<LogLevel, number> = { error: 50, warn: 40, info: 30, debug: 20, trace: 10 };

/** Extra fields of a log line, written as JSON properties. */
export type LogFields = Record<string, unknown>;

/** A structured logger: one JSON object per line. */
export interface Logger {
  /** The least severe level written. */
  readonly level: LogLevel;
  /** Whether lines of `level` are written (to skip building costly fields). */
  isEnabled(level: LogLevel): boolean;
  /** Logs at `error`. */
  error(msg: string, fields?: LogFields): void;
  /** Logs at `warn`. */
  warn(msg: string, fields?: LogFields): void;
  /** Logs at `info`. */
  info(msg: string, fields?: LogFields): void;
  /** Logs at `debug`. */
  debug(msg: string, fields?: LogFields): void;
  /** Logs at `trace`. */
  trace(msg: string, fields?: LogFields): void;
  /** Logs at `level` only the first time `key` is seen: for faults that could repeat per request. */
  once(key: string, level: LogLevel, msg: string, fields?: LogFields): void;
}

/** Where log lines go: each call gets one line, newline included. */
export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => {
  process.stderr.write(line);
};

export function createLogger(level: LogLevel, sink: LogSink = stderrSink, target = 'dynamo'): Logger {
  const threshold = SEVERITY[level];
  const seen = new Set<string>();
  const write = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (SEVERITY[lvl] < threshold) return;
    const record: LogFields = { time: new Date().toISOString(), level: lvl, target, msg };
    if (fields !== undefined) {
      for (const key of Object.keys(fields)) record[key] = serializable(fields[key]);
    }
    sink(`${JSON.stringify(record)}\n`);
  };
  return {
    level,
    isEnabled: (lvl) => SEVERITY[lvl] >= threshold,
    error: (msg, fields) => write('error', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    debug: (msg, fields) => write('debug', msg, fields),
    trace: (msg, fields) => write('trace', msg, fields),
    once(key, lvl, msg, fields) {
      if (seen.has(key)) return;
      seen.add(key);
      write(lvl, msg, fields);
    },
  };
}

function serializable(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return code === undefined ? { name: value.name, message: value.message } : { name: value.name, code, message: value.message };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}
