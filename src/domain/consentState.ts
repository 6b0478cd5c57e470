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
 * older event never undoes a newer one. In the same millisecond a withdrawal beats a grant (fail closed); the
 * same event applied twice changes nothing.
 */
export function supersedes(candidate: ConsentEntry, current: ConsentEntry | null): boolean {
  if (current === null) return true;
  if (candidate.capturedAt !== current.capturedAt) return candidate.capturedAt > current.capturedAt;
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
 */
export function applyConsentEvent(state: ConsentState | undefined, event: ConsentEvent, now: number): Reduction {
  const purposes = state ? state.purposes.map((p) => ({ ...p, channels: [...p.channels] })) : emptyPurposes();
  let changed = false;
  for (const pc of event.purposes) {
    const slot = purposes.find((p) => p.purpose === pc.purpose);
    if (!slot) continue;
    const candidate: ConsentEntry = { granted: pc.granted, capturedAt: event.capturedAt, source: event.source, eventId: event.eventId };
    if (pc.channel === null) {
      if (supersedes(candidate, slot.entry)) {
        slot.entry = candidate;
        // A later statement about the whole purpose replaces the earlier channel-specific ones.
        slot.channels = slot.channels.filter((c) => c.capturedAt >= candidate.capturedAt);
        changed = true;
      }
      continue;
    }
    // A channel statement older than the purpose-level one was already replaced by it.
    if (slot.entry && candidate.capturedAt < slot.entry.capturedAt) continue;
    const i = slot.channels.findIndex((c) => c.channel === pc.channel);
    const current = i >= 0 ? slot.channels[i]! : null;
    if (supersedes(candidate, current)) {
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
