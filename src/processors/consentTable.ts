import { applyConsentEvent, receivedAt } from '../domain/consentState.ts';
import type { ConsentEvent, ConsentState } from '../domain/types.ts';
import { checkConsentEvent } from '../domain/validation.ts';
import type { ProcessorLogic } from '../runtime/builder.ts';
import type { KeyValueStore } from '../runtime/processor.ts';

/**
 * consent.events → consent-table store (changelog consent.state). Events are ordered by capturedAt, not arrival,
 * but none counts as captured after its record's timestamp (a grant dated 2099 cannot outrank a withdrawal received
 * later); an event that moves no flag changes nothing. Table updates never emit to sinks.
 */
export function consentTableProcessor(store: KeyValueStore<ConsentState>, o: { invalid: 'dead-letter' | 'skip' } = { invalid: 'dead-letter' }): ProcessorLogic<ConsentEvent> {
  return {
    process(input, event, ctx) {
      const check = checkConsentEvent(input.key?.toString('utf8') ?? null, event);
      if (!check.ok) {
        // A replay folds the same events again: the live pipeline dead-lettered an invalid one already.
        if (o.invalid === 'dead-letter') ctx.deadLetter(input, 'VALIDATION_FAILED', check.reason);
        return;
      }
      const r = applyConsentEvent(store.get(event.customerId), event, ctx.clock.now(), receivedAt(input.timestamp, ctx.clock.now()));
      if (!r.changed) return;
      store.put(event.customerId, r.state);
      // Opt-out propagation: from the withdrawal's record timestamp to the table that decides the next record.
      if (event.purposes.some((p) => !p.granted)) ctx.observe('optOutPropagationMs', Math.max(0, ctx.clock.now() - Number(input.timestamp)));
    },
  };
}

