/**
 * Counting event-loop turns, for tests of "never blocks the loop for long" that must not depend
 * on the machine's speed: instead of timing a block, a test records in which turn each piece of
 * work happened and asserts how much work shares a turn — an exact, structural bound.
 */

export interface TurnCounter {
  /** Turns completed since `countTurns()`; read it where work happens to label that work with its turn. */
  readonly now: number;
  stop(): void;
}

/**
 * Counts turns with an immediate that re-arms itself: it runs once per loop iteration (an
 * immediate queued from an immediate waits for the next iteration), so two reads of `now` differ
 * exactly when the event loop went round between them.
 */
export function countTurns(): TurnCounter {
  let turns = 0;
  let handle: NodeJS.Immediate | undefined;
  const tick = (): void => {
    turns++;
    handle = setImmediate(tick);
  };
  handle = setImmediate(tick);
  return {
    get now() {
      return turns;
    },
    stop() {
      if (handle !== undefined) clearImmediate(handle);
      handle = undefined;
    },
  };
}

/** How many items fell in each turn, in order, leaving out turns without any: `[3, 3, 1]` for turns `[0, 0, 0, 4, 4, 4, 5]`. */
export function perTurn(turnOfEach: readonly number[]): number[] {
  const counts: number[] = [];
  let last: number | undefined;
  for (const turn of turnOfEach) {
    if (turn === last) counts[counts.length - 1]!++;
    else counts.push(1);
    last = turn;
  }
  return counts;
}
