import { DynamoError, ErrorCode } from '../errors.ts';

/** Bucket boundaries must be finite and strictly increasing; anything else is a setup error. */
export function validateBuckets(buckets: readonly number[], where: string): number[] {
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw new DynamoError(ErrorCode.InvalidBuckets, `${where}: buckets must be a non-empty array of numbers`);
  }
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i];
    if (typeof b !== 'number' || !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number))) {
      throw new DynamoError(
        ErrorCode.InvalidBuckets,
        `${where}: bucket ${i} (${String(b)}) is not valid: boundaries must be finite and strictly increasing`,
      );
    }
  }
  return [...buckets];
}
