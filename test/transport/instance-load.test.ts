// The load estimate behind the `least_loaded` router (pure arithmetic: no NATS is touched).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { InstanceDirectory, LOAD_REPORT_TTL_MS } from '../../src/transport/instance-directory.ts';
import { createLogger } from '../../src/logging/logger.ts';

const directory = () => new InstanceDirectory({ nc: {} as NatsConnection, subject: 'dynamo.ns.c.e', inboxPrefix: '_INBOX', logger: createLogger('error', () => {}) });

describe('instance load estimate', () => {
  it("counts this runtime's requests in flight, and the others an instance reported while the report is fresh", () => {
    const d = directory();
    assert.equal(d.load('A'), 0, 'unknown: 0');
    d.track('A', 1);
    d.track('A', 1);
    assert.equal(d.load('A'), 2);
    // A answers one of our two requests and reports 6 others in flight: one of them is our other request.
    const t = Date.now();
    d.reportLoad('A', 6, true);
    d.track('A', -1); // the answered request is done
    assert.equal(d.load('A', t), 5 + 1, "5 of others' + our 1");
    assert.equal(d.load('A', t + LOAD_REPORT_TTL_MS), 6, 'still fresh at the TTL');
    assert.equal(d.load('A', t + LOAD_REPORT_TTL_MS + 1000), 1, 'a stale report counts nothing; ours still count');
    d.track('A', -1);
    d.track('A', -1); // more -1 than +1 never goes negative
    assert.equal(d.load('A', t + LOAD_REPORT_TTL_MS + 1000), 0);
    d.track('A', 1);
    assert.equal(d.load('A', t + LOAD_REPORT_TTL_MS + 1000), 1);
  });

  it('a report smaller than our own requests in flight (they ended meanwhile) counts no others', () => {
    const d = directory();
    for (let i = 0; i < 4; i++) d.track('B', 1);
    d.reportLoad('B', 1, true);
    assert.equal(d.load('B'), 4);
  });

  it('an answer to a request sent through the queue group (not counted for the instance) leaves all of our in-flight requests out of the report', () => {
    const d = directory();
    d.track('C', 1);
    d.track('C', 1);
    d.reportLoad('C', 5, false); // our two are among the 5; the answered one was never counted for C
    assert.equal(d.load('C'), 3 + 2);
  });
});
