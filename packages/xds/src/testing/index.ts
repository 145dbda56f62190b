export {
  emptyMatch,
  LOCALHOST_CONFIG_PATH,
  localhostConfigYaml,
  makePolicy,
  makeService,
  makeWorkload,
} from './fixtures.ts';
export {
  type RawResource,
  type RecordedRequest,
  TestXdsServer,
  type TestXdsServerOptions,
  type XdsResources,
} from './server.ts';
