// Replay after a policy change (issue 14), the pure part: what the new policy does to one retained record at one
// sink, compared with the decision the record had under the old policy, both against the consent table as it is now.
import { evaluate, PERSONAL_FIELDS, type Policy, type SinkPolicy } from './policy.ts';
import type { Channel, ConsentState } from './types.ts';

/** policy.cutovers: where the live pipeline switched one partition of an input topic to a policy generation. */
export interface PolicyCutover {
  topic: string;
  partition: number;
  /** The cutover marker's offset: records below it belong to the generations before. */
  offset: string;
  generation: number;
  policyVersion: string;
  /** The generation's policy document (JSON). */
  policy: string;
  cutAt: number;
}

/**
 * keep: same outcome (and, if forwarded, the same field rules); retract: forwarded before, blocked now (its vendor
 * must be told to purge it); admit: blocked before, permitted now (a late admission); reshape: forwarded both times
 * but under changed field rules (the new generation's copy differs).
 */
export type ReplayChange = 'keep' | 'retract' | 'admit' | 'reshape';
export const REPLAY_CHANGES: readonly ReplayChange[] = ['keep', 'retract', 'admit', 'reshape'];

/** Whether two sink policies treat any personal field differently. */
export function fieldRulesDiffer(a: SinkPolicy, b: SinkPolicy): boolean {
  return PERSONAL_FIELDS.some((f) => (a.fields[f] ?? a.defaultAction) !== (b.fields[f] ?? b.defaultAction));
}

/**
 * One record at one sink. `before`: whether it was forwarded there under the old policy (false when it had no decision
 * there, e.g. the sink is new), and that sink's old rules; `after`: the sink in the new policy (undefined: removed).
 */
export function replayChange(
  before: { forwarded: boolean; sink?: SinkPolicy },
  after: SinkPolicy | undefined,
  record: { customerId: string | null; channel: Channel },
  state: ConsentState | undefined,
): ReplayChange {
  return changeOf(before, after !== undefined && evaluate(after, record, state).kind === 'forward' ? after : undefined);
}

/** The change from `before` to a decision that forwarded the record under `forwardedUnder` (undefined: blocked). */
export function changeOf(before: { forwarded: boolean; sink?: SinkPolicy }, forwardedUnder: SinkPolicy | undefined): ReplayChange {
  if (before.forwarded && !forwardedUnder) return 'retract';
  if (!before.forwarded && forwardedUnder) return 'admit';
  if (forwardedUnder && before.sink && fieldRulesDiffer(before.sink, forwardedUnder)) return 'reshape';
  return 'keep';
}

/** Counts per sink (every sink of either policy) and change. */
export type ReplayTally = Record<string, Record<ReplayChange, number>>;

export function emptyTally(oldPolicy: Policy, newPolicy: Policy): ReplayTally {
  const sinks = [...new Set([...oldPolicy.sinks, ...newPolicy.sinks].map((s) => s.name))].sort();
  return Object.fromEntries(sinks.map((s) => [s, { keep: 0, retract: 0, admit: 0, reshape: 0 }]));
}

/**
 * Adds one retained record to the tally: at every sink of either policy, its change from `forwardedBefore` (the
 * sinks its old decisions forwarded it to) to what the new policy decides against `state`.
 */
export function tallyRecord(t: ReplayTally, oldPolicy: Policy, newPolicy: Policy, forwardedBefore: ReadonlySet<string>, record: { customerId: string | null; channel: Channel }, state: ConsentState | undefined): void {
  for (const sink of Object.keys(t)) {
    const old = oldPolicy.sinks.find((s) => s.name === sink);
    const change = replayChange({ forwarded: forwardedBefore.has(sink), ...(old ? { sink: old } : {}) }, newPolicy.sinks.find((s) => s.name === sink), record, state);
    t[sink]![change]++;
  }
}
