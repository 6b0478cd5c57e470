/** The only way domain code learns the time: injected, so tests and replays are deterministic. */
export interface Clock {
  now(): number;
}
