import {
  PURPOSES,
  type ComplianceStatus,
  type ConsentEntry,
  type ConsentEvent,
  type ConsentState,
  type PurposeState,
} from './types.ts';

/**
 * Whether `candidate` replaces `current` for one consent flag. Order is by capturedAt, not arrival, so a late,
 * older event never undoes a newer one — but no statement counts as made after it was received: both times are
 * taken at most `receivedAt` (when the candidate reached the pipeline; `current` was received before it), so a
 * grant dated in the future cannot outrank a withdrawal received after it. In the same millisecond a withdrawal
 * beats a grant (fail closed); the same event applied twice changes nothing.
 */
export function supersedes(candidate: ConsentEntry, current: ConsentEntry | null, receivedAt = Infinity): boolean {
  if (current === null) return true;
  const a = Math.min(candidate.capturedAt, receivedAt);
  const b = Math.min(current.capturedAt, receivedAt);
  if (a !== b) return a > b;
  if (candidate.granted !== current.granted) return !candidate.granted;
  return false;
}

function emptyPurposes(): PurposeState[] {
  return PURPOSES.map((purpose) => ({ purpose, entry: null, channels: [] }));
}

/**
 * Aggregates the flags into the one status downstream systems read: every flag (purpose level, a missing one
 * counting as not granted, and every channel override) granted → FULLY_OPTED_IN; none → FULLY_OPTED_OUT.
 */
export function complianceStatusOf(purposes: readonly PurposeState[]): ComplianceStatus {
  const flags: boolean[] = [];
  for (const p of purposes) {
    flags.push(p.entry?.granted ?? false);
    for (const c of p.channels) flags.push(c.granted);
  }
  if (flags.every(Boolean)) return 'FULLY_OPTED_IN';
  if (!flags.some(Boolean)) return 'FULLY_OPTED_OUT';
  return 'PARTIAL_OPT_IN';
}

export type Reduction = { changed: true; state: ConsentState } | { changed: false; state: ConsentState | undefined };

/**
 * Folds one consent event into a customer's state. The latest statement wins per flag; a channel override beats
 * the purpose-level entry made at the same time or before it, and a newer purpose-level entry clears older overrides. Returns `changed: false` (and the state untouched) when no flag
 * moved, so duplicates and stale events neither bump the version nor emit to consent.state.
 * `receivedAt` is when the event reached the pipeline (its record's timestamp): a capture time after it counts as
 * `receivedAt` and is stored so (see supersedes). Without it capture times are taken as they are.
 */
export function applyConsentEvent(state: ConsentState | undefined, event: ConsentEvent, now: number, receivedAt = Infinity): Reduction {
  const purposes = state ? state.purposes.map((p) => ({ ...p, channels: [...p.channels] })) : emptyPurposes();
  const at = (t: number) => Math.min(t, receivedAt);
  let changed = false;
  for (const pc of event.purposes) {
    const slot = purposes.find((p) => p.purpose === pc.purpose);
    if (!slot) continue;
    const candidate: ConsentEntry = { granted: pc.granted, capturedAt: at(event.capturedAt), source: event.source, eventId: event.eventId };
    if (pc.channel === null) {
      if (supersedes(candidate, slot.entry, receivedAt)) {
        slot.entry = candidate;
        // A later statement about the whole purpose replaces the earlier channel-specific ones.
        slot.channels = slot.channels.filter((c) => at(c.capturedAt) >= candidate.capturedAt);
        changed = true;
      }
      continue;
    }
    // A channel statement older than the purpose-level one was already replaced by it.
    if (slot.entry && candidate.capturedAt < at(slot.entry.capturedAt)) continue;
    const i = slot.channels.findIndex((c) => c.channel === pc.channel);
    const current = i >= 0 ? slot.channels[i]! : null;
    if (supersedes(candidate, current, receivedAt)) {
      const override = { ...candidate, channel: pc.channel };
      if (i >= 0) slot.channels[i] = override;
      else slot.channels.push(override);
      changed = true;
    }
  }
  if (!changed) return { changed: false, state };
  for (const p of purposes) p.channels.sort((a, b) => a.channel.localeCompare(b.channel));
  return {
    changed: true,
    state: {
      customerId: event.customerId,
      purposes,
      complianceStatus: complianceStatusOf(purposes),
      version: (state?.version ?? 0) + 1,
      updatedAt: now,
    },
  };
}

/** When a record reached Kafka (its timestamp, milliseconds as a decimal string), or `now` when it has none. */
export function receivedAt(timestamp: string, now: number): number {
  const t = Number(timestamp);
  return Number.isFinite(t) && t > 0 ? t : now;
}
