/** A real 3-node (or n-node) `nats-server` cluster on free loopback ports, for tests. */
import { connect } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from './nats-server.ts';
import { freePort } from './tools.ts';

export interface NatsCluster {
  readonly nodes: readonly NatsServer[];
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const nodes: NatsServer[] = [];
  for (let i = 0; i < size; i++) {
    const routes = routePorts.filter((_, k) => k !== i).map((p) => `nats-route://127.0.0.1:${p}`);
    nodes.push(await startNatsServer({ extraConfig: `server_name: node${i}\ncluster {\n  name: test\n  listen: 127.0.0.1:${routePorts[i]}\n  routes: [${routes.join(', ')}]\n}\n` }));
  }
  // Routed: a message published on every node reaches a subscriber on every other node.
  const conns = await Promise.all(nodes.map((n) => connect({ servers: n.url })));
  try {
    for (let i = 0; i < size; i++) {
      for (let k = 0; k < size; k++) {
        if (i === k) continue;
        const subject = `cluster.probe.${i}.${k}`;
        const seen = new Promise<void>((resolve) => conns[k]!.subscribe(subject, { max: 1, callback: () => resolve() }));
        await conns[k]!.flush();
        const deadline = Date.now() + 10_000;
        let arrived = false;
        void seen.then(() => (arrived = true));
        while (!arrived) {
          if (Date.now() > deadline) throw new Error(`nats cluster: node${i} does not route to node${k}`);
          conns[i]!.publish(subject);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
  return {
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
