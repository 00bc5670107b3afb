import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MsgHdrsImpl } from '@nats-io/transport-node';
import { ContentType } from '../../src/transport/protocol.ts';
import { HeaderBlock } from '../../src/transport/header-block.ts';
import { protocolHeaderBlock, REQUEST_LAYOUT } from '../../src/transport/request-header-block.ts';
import { DATA_LAYOUT, instanceHeaders } from '../../src/transport/response-publisher.ts';
import { newRequestSecret } from '../../src/transport/request-secret.ts';

describe('a request’s protocol header block, written at once', () => {
  it('is byte for byte what nats.js’s MsgHdrs encodes for the same headers', () => {
    for (const [requestId, contentType, window] of [
      ['a-0', ContentType.Json, 128],
      ['kq9Zb1x2-1z', ContentType.Bytes, 1],
      ['x'.repeat(64), ContentType.Json, 4096],
    ] as const) {
      const { key } = newRequestSecret();
      const nats = new MsgHdrsImpl();
      nats.set('Dynamo-Protocol', '2');
      nats.set('Dynamo-Request-Id', requestId);
      nats.set('Dynamo-Key', key);
      nats.set('Dynamo-Content-Type', contentType);
      nats.set('Dynamo-Window', String(window));
      const block = protocolHeaderBlock(requestId, key, contentType, window).encode();
      assert.deepEqual([...block], [...nats.encode()]);
      // an instance reads it by its layout: what the general reading reads
      const laid = HeaderBlock.scan(block, block.length, REQUEST_LAYOUT);
      const general = HeaderBlock.scan(block);
      assert.deepEqual(
        laid.keys().map((name) => [name, laid.values(name)]),
        general.keys().map((name) => [name, general.values(name)]),
      );
      assert.deepEqual([laid.single('Dynamo-Request-Id'), laid.single('Dynamo-Key'), laid.single('Dynamo-Content-Type'), laid.single('Dynamo-Window'), laid.lineFeeds], [requestId, key, contentType, String(window), 7]);
    }
  });
});

describe('a JSON data message’s header block, as instances write it', () => {
  it('is read by the layout clients expect of it, as the general reading reads it', () => {
    const instanceId = '0f4c2a8e-6b1d-4f3a-9c7e-5d2b8a1f3e60';
    const block = instanceHeaders(instanceId).dataJson;
    const laid = HeaderBlock.scan(block, block.length, DATA_LAYOUT);
    const general = HeaderBlock.scan(block);
    assert.equal(DATA_LAYOUT.pattern.test(Buffer.from(block).toString('latin1')), true);
    assert.deepEqual(
      laid.keys().map((name) => [name, laid.values(name)]),
      general.keys().map((name) => [name, general.values(name)]),
    );
    assert.deepEqual([laid.single('Dynamo-Protocol'), laid.single('Dynamo-Instance'), laid.single('Dynamo-Kind'), laid.has('Dynamo-Content-Type'), laid.lineFeeds], ['2', instanceId, 'data', false, 5]);
  });
});
