import { DynamoError, ErrorCode } from '../errors.ts';

const MAX_NAME = 64;
const NAME_CHAR = /[A-Za-z0-9_-]/;

export type NameKind = 'namespace' | 'component' | 'endpoint';

/**
 * A hierarchy name becomes part of a NATS subject and a label value, so it is held to the
 * intersection of what both accept: 1–64 of letters, digits, `_` and `-`.
 */
export function validateName(kind: NameKind, name: unknown): string {
  if (typeof name !== 'string') {
    throw new DynamoError(ErrorCode.InvalidName, `${kind} name must be a string, got ${typeof name}`);
  }
  if (name.length === 0) throw new DynamoError(ErrorCode.InvalidName, `${kind} name must not be empty`);
  const chars = [...name];
  if (chars.length > MAX_NAME) {
    throw new DynamoError(ErrorCode.InvalidName, `${kind} name ${JSON.stringify(name)} is ${chars.length} characters; at most ${MAX_NAME} are allowed`);
  }
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (!NAME_CHAR.test(c)) {
      throw new DynamoError(
        ErrorCode.InvalidName,
        `${kind} name ${JSON.stringify(name)} has the character ${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) at position ${i}; only letters, digits, '_' and '-' are allowed`,
      );
    }
  }
  return name;
}
