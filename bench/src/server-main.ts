// The target server in a process of its own, so it does not share a core's event loop with the
// load generator. Prints {"port": n} on its first stdout line; exits when stdin closes.
import type { AddressInfo } from 'node:net';
import { startServer } from './server.ts';

const server = await startServer(process.argv[2] ?? '0.0.0.0');
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
