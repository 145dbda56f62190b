import { messageType } from '@zt/proto';
import type protobuf from 'protobufjs';

// Plain-object views of the istio.workload / istio.security messages, as protobufjs' toObject gives
// them (camelCase, enums as names, defaults filled in, oneof name in a virtual field) and as
// fromObject takes them. Optional everywhere because encoders may leave fields out.

export const ADDRESS_TYPE_URL = 'type.googleapis.com/istio.workload.Address';
export const AUTHORIZATION_TYPE_URL = 'type.googleapis.com/istio.security.Authorization';

export interface PbNetworkAddress {
  network?: string;
  address?: Uint8Array;
  length?: number | null;
}
export interface PbGatewayAddress {
  hostname?: { namespace?: string; hostname?: string } | null;
  address?: PbNetworkAddress | null;
  hboneMtlsPort?: number;
  destination?: 'hostname' | 'address';
}
export interface PbPort {
  servicePort?: number;
  targetPort?: number;
  appProtocol?: string | number;
}
export interface PbWorkload {
  uid?: string;
  name?: string;
  namespace?: string;
  addresses?: Uint8Array[];
  hostname?: string;
  network?: string;
  tunnelProtocol?: string | number;
  trustDomain?: string;
  serviceAccount?: string;
  waypoint?: PbGatewayAddress | null;
  networkGateway?: PbGatewayAddress | null;
  node?: string;
  canonicalName?: string;
  canonicalRevision?: string;
  workloadType?: string | number;
  workloadName?: string;
  nativeTunnel?: boolean;
  applicationTunnel?: { protocol?: string | number; port?: number } | null;
  services?: Record<string, { ports?: PbPort[] }>;
  authorizationPolicies?: string[];
  status?: string | number;
  clusterId?: string;
  locality?: { region?: string; zone?: string; subzone?: string } | null;
  networkMode?: string | number;
  capacity?: { value?: number } | null;
}
export interface PbService {
  name?: string;
  namespace?: string;
  hostname?: string;
  addresses?: PbNetworkAddress[];
  ports?: PbPort[];
  subjectAltNames?: string[];
  waypoint?: PbGatewayAddress | null;
  loadBalancing?: {
    routingPreference?: Array<string | number>;
    mode?: string | number;
    healthPolicy?: string | number;
  } | null;
  ipFamilies?: string | number;
  canonical?: boolean;
  visibility?: string | number;
}
export interface PbAddress {
  workload?: PbWorkload | null;
  service?: PbService | null;
  type?: 'workload' | 'service';
}
export interface PbStringMatch {
  exact?: string;
  prefix?: string;
  suffix?: string;
  presence?: Record<string, never>;
  matchType?: 'exact' | 'prefix' | 'suffix' | 'presence';
}
export interface PbCidr {
  address?: Uint8Array;
  length?: number;
}
export interface PbServiceAccountMatch {
  namespace?: string;
  serviceAccount?: string;
}
export interface PbMatch {
  namespaces?: PbStringMatch[];
  notNamespaces?: PbStringMatch[];
  serviceAccounts?: PbServiceAccountMatch[];
  notServiceAccounts?: PbServiceAccountMatch[];
  principals?: PbStringMatch[];
  notPrincipals?: PbStringMatch[];
  sourceIps?: PbCidr[];
  notSourceIps?: PbCidr[];
  destinationIps?: PbCidr[];
  notDestinationIps?: PbCidr[];
  destinationPorts?: number[];
  notDestinationPorts?: number[];
}
export interface PbAuthorization {
  name?: string;
  namespace?: string;
  scope?: string | number;
  action?: string | number;
  rules?: Array<{ clauses?: Array<{ matches?: PbMatch[] }> }>;
  dryRun?: boolean;
}

const TO_OBJECT: protobuf.IConversionOptions = {
  enums: String,
  longs: Number,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

let addressType: protobuf.Type | undefined;
let authorizationType: protobuf.Type | undefined;
function addressT(): protobuf.Type {
  addressType ??= messageType('istio.workload.Address');
  return addressType;
}
function authorizationT(): protobuf.Type {
  authorizationType ??= messageType('istio.security.Authorization');
  return authorizationType;
}

/** Wire bytes -> plain object. Throws protobufjs' error on malformed input. */
export function decodeAddressBytes(bytes: Uint8Array): PbAddress {
  const t = addressT();
  return t.toObject(t.decode(bytes), TO_OBJECT) as PbAddress;
}

export function decodeAuthorizationBytes(bytes: Uint8Array): PbAuthorization {
  const t = authorizationT();
  return t.toObject(t.decode(bytes), TO_OBJECT) as PbAuthorization;
}

export function encodeAddressBytes(msg: PbAddress): Uint8Array {
  const t = addressT();
  return t.encode(t.fromObject(msg as Record<string, unknown>)).finish();
}

export function encodeAuthorizationBytes(msg: PbAuthorization): Uint8Array {
  const t = authorizationT();
  return t.encode(t.fromObject(msg as Record<string, unknown>)).finish();
}
