export {
  type Exposition,
  ExpositionParseError,
  parseExposition,
  type Sample,
  samplesOf,
  sampleValue,
  sumOf,
} from './exposition.ts';
