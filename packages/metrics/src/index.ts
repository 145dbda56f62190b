export { counter, gauge, histogram, registry } from './registry.ts';
