/**
 * The raw nats.js requester of the benchmarks' baselines (bench/responder.ts answers it): unary,
 * `nc.request()`; streaming, one inbox subscription and each request done at its empty message.
 */
import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';

export interface RawCaller {
  call(): Promise<unknown>;
  start(): Promise<void>;
  close(): void;
}

export function rawCaller(nc: NatsConnection, subject: string, payload: Uint8Array, stream: boolean): RawCaller {
  if (!stream) return { call: () => nc.request(subject, payload, { timeout: 30_000 }), start: async () => {}, close: () => {} };
  const inbox = createInbox();
  const waiting = new Map<string, () => void>();
  let seq = 0;
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (_err, msg: Msg) => {
      if (msg.data.length === 0) waiting.get(msg.subject)?.();
    },
  });
  return {
    call: () =>
      new Promise<void>((resolve) => {
        const reply = `${inbox}.${seq++}`;
        waiting.set(reply, () => {
          waiting.delete(reply);
          resolve();
        });
        nc.publish(subject, payload, { reply });
      }),
    start: () => nc.flush(),
    close: () => sub.unsubscribe(),
  };
}
