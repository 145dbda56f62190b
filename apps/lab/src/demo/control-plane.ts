// The demo's built-in control plane: our test xDS server (serving mesh.yaml) and our test CA, in a
// process of their own on loopback, as istiod would be. Prints one JSON line with their addresses,
// then serves until SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { TestCaServer } from '@zt/identity/testing';
import { TestXdsServer } from '@zt/xds/testing';

export interface ControlPlaneInfo {
  xds: string;
  ca: string;
  rootPem: string;
}

const meshPath = process.argv[2] ?? new URL('./mesh.yaml', import.meta.url).pathname;
const yaml = readFileSync(meshPath, 'utf8');
const ca = await TestCaServer.start();
const xds = await TestXdsServer.start({ yaml });
const info: ControlPlaneInfo = { xds: xds.address, ca: ca.address, rootPem: ca.rootPem };
process.stdout.write(`${JSON.stringify(info)}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([xds.close(), ca.close()]);
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// Started by the demo with an IPC channel: leave with it, however it ended.
process.channel?.unref();
process.on('disconnect', () => void stop());
