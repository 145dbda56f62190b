import { gauge } from './registry.ts';

/**
 * `istio_build{component="ztunnel",tag=<istio version>} 1`, as upstream: Istio's dashboards and
 * `istioctl` read the data-plane version from it. `max` across threads, so a worker that records it
 * too does not make it 2.
 */
export const istioBuild = gauge('istio_build', 'Istio component build info', ['component', 'tag'], {
  aggregator: 'max',
});

/** Call once on the main thread with the Istio version this zt speaks for. */
export function recordBuildInfo(tag: string): void {
  istioBuild.reset();
  istioBuild.set({ component: 'ztunnel', tag }, 1);
}
