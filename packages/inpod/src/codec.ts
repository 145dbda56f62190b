// ZDS messages as plain values, encoded and decoded with the schemas of @zt/proto
// (proto/zds.proto). Both directions are here so the fake node agent of the testing entry speaks
// exactly what the client parses.
import { messageType } from '@zt/proto';
import { ZdsRequestError } from './errors.ts';

export const ZDS_VERSION_V1 = 1;

export interface WorkloadInfo {
  name: string;
  namespace: string;
  serviceAccount: string;
}

/** A decoded WorkloadRequest (node agent -> zt), as a tagged union. */
export type ZdsRequest =
  | { t: 'add'; uid: string; info: WorkloadInfo | undefined }
  | { t: 'keep'; uid: string }
  | { t: 'del'; uid: string }
  | { t: 'snapshotSent' };

const types = {
  get hello() {
    return messageType('istio.workload.zds.ZdsHello');
  },
  get request() {
    return messageType('istio.workload.zds.WorkloadRequest');
  },
  get response() {
    return messageType('istio.workload.zds.WorkloadResponse');
  },
};

interface RawInfo {
  name?: string;
  namespace?: string;
  serviceAccount?: string;
}
interface RawRequest {
  payload?: string;
  add?: { uid?: string; workloadInfo?: RawInfo };
  keep?: { uid?: string };
  del?: { uid?: string };
  snapshotSent?: object;
}

function bytes(type: ReturnType<typeof messageType>, value: object): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}

export function encodeHello(version: number = ZDS_VERSION_V1): Uint8Array {
  return bytes(types.hello, { version });
}

/** The hello's version number; throws ZdsRequestError when the bytes are not a ZdsHello. */
export function decodeHello(data: Uint8Array): number {
  try {
    const obj = types.hello.toObject(types.hello.decode(data), { enums: Number, defaults: true });
    return Number(obj.version ?? 0);
  } catch (e) {
    throw new ZdsRequestError('decode', `ZdsHello does not decode: ${(e as Error).message}`, { cause: e });
  }
}

/** An Ack: empty `error` means success. */
export function encodeAck(error = ''): Uint8Array {
  return bytes(types.response, { ack: { error } });
}

/** The Ack's error text ('' for success); throws when the bytes are not a WorkloadResponse with an Ack. */
export function decodeAck(data: Uint8Array): string {
  let obj: { ack?: { error?: string } };
  try {
    obj = types.response.toObject(types.response.decode(data), { oneofs: true });
  } catch (e) {
    throw new ZdsRequestError('decode', `WorkloadResponse does not decode: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!obj.ack) throw new ZdsRequestError('decode', 'WorkloadResponse carries no Ack');
  return obj.ack.error ?? '';
}

export function encodeRequest(req: ZdsRequest): Uint8Array {
  switch (req.t) {
    case 'add':
      return bytes(types.request, {
        add: { uid: req.uid, ...(req.info ? { workloadInfo: req.info } : {}) },
      });
    case 'keep':
      return bytes(types.request, { keep: { uid: req.uid } });
    case 'del':
      return bytes(types.request, { del: { uid: req.uid } });
    case 'snapshotSent':
      return bytes(types.request, { snapshotSent: {} });
  }
}

/** Decodes a WorkloadRequest; anything malformed or empty is a ZdsRequestError ('decode'). */
export function decodeRequest(data: Uint8Array): ZdsRequest {
  let raw: RawRequest;
  try {
    raw = types.request.toObject(types.request.decode(data), { oneofs: true }) as RawRequest;
  } catch (e) {
    throw new ZdsRequestError('decode', `WorkloadRequest does not decode: ${(e as Error).message}`, {
      cause: e,
    });
  }
  switch (raw.payload) {
    case 'add': {
      const info = raw.add?.workloadInfo;
      return {
        t: 'add',
        uid: raw.add?.uid ?? '',
        info: info
          ? {
              name: info.name ?? '',
              namespace: info.namespace ?? '',
              serviceAccount: info.serviceAccount ?? '',
            }
          : undefined,
      };
    }
    case 'keep':
      return { t: 'keep', uid: raw.keep?.uid ?? '' };
    case 'del':
      return { t: 'del', uid: raw.del?.uid ?? '' };
    case 'snapshotSent':
      return { t: 'snapshotSent' };
    default:
      throw new ZdsRequestError('decode', 'WorkloadRequest has no payload (add, keep, del or snapshot_sent)');
  }
}
