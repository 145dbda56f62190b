export {
  emptyMatch,
  LOCALHOST_CONFIG_PATH,
  localhostConfigYaml,
  makePolicy,
  makeService,
  makeSnapshot,
  makeWorkload,
  type ServiceOverrides,
} from './fixtures.ts';
export {
  type RawResource,
  type RecordedRequest,
  TestXdsServer,
  type TestXdsServerOptions,
  type XdsResources,
} from './server.ts';
