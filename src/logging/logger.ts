/**
 * Structured logging: one JSON object per line on stderr, so log shippers need no parser
 * configuration. The level comes from `DYN_LOG` (see config/env.ts).
 */
export const LogLevel = {
  Error: 'error',
  Warn: 'warn',
  Info: 'info',
  Debug: 'debug',
  Trace: 'trace',
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

const SEVERITY: Record<LogLevel, number> = { error: 50, warn: 40, info: 30, debug: 20, trace: 10 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  isEnabled(level: LogLevel): boolean;
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  trace(msg: string, fields?: LogFields): void;
  /** Logs at `level` only the first time `key` is seen: for faults that could repeat per request. */
  once(key: string, level: LogLevel, msg: string, fields?: LogFields): void;
}

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
