// The mTLS material every peer proxy pair uses: one TestCa root, a client and a server leaf with
// SPIFFE URI SANs, as PEM files on disk (cert, key, and cert+key bundles for HAProxy).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCa } from '@zt/identity/testing';

export interface TlsFiles {
  root: string;
  clientCert: string;
  clientKey: string;
  /** Leaf then key, the form HAProxy's `crt` takes. */
  clientBundle: string;
  serverCert: string;
  serverKey: string;
  serverBundle: string;
}

export async function writeTlsFiles(dir: string): Promise<TlsFiles> {
  const ca = await TestCa.create({ name: 'zt bench root' });
  const client = await ca.issue('spiffe://cluster.local/ns/bench-client/sa/client');
  const server = await ca.issue('spiffe://cluster.local/ns/bench-server/sa/server');
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600 });
    return p;
  };
  const chain = (pems: readonly string[]): string =>
    pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
  return {
    root: file('root.pem', ca.rootPem),
    clientCert: file('client.crt', chain(client.certChain)),
    clientKey: file('client.key', client.privateKey),
    clientBundle: file('client.pem', chain([...client.certChain, client.privateKey])),
    serverCert: file('server.crt', chain(server.certChain)),
    serverKey: file('server.key', server.privateKey),
    serverBundle: file('server.pem', chain([...server.certChain, server.privateKey])),
  };
}
