import { randomUUID } from 'node:crypto';
import type { GenesysClient } from '../adapters/genesys.ts';
import type { KeyStore } from '../adapters/keyStore.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import type { Clock } from '../domain/clock.ts';
import type { ErasureRequest } from '../processors/purge.ts';
import type { Topology } from '../runtime/topology.ts';
import type { Sender } from './sink.ts';

/**
 * An erasure request (GDPR Art. 17, CCPA 1798.105), in this order:
 * 1. the customer's data keys are destroyed and the permanent marker set: every crypto-shredded field of theirs, in
 *    every topic and every copy, is unreadable from this moment, and no key will ever be minted for them again;
 * 2. optionally a Genesys GDPR_DELETE request is filed through the SDK;
 * 3. the request is written to erasure.requests (acknowledged), where the purge processor withdraws every purpose
 *    and sends PURGE_REQUESTs to every vendor that received the customer's data.
 * Failing before 3 leaves nothing half done that a retry would not redo: destruction is idempotent.
 */
export async function requestErasure(o: {
  customerId: string;
  source: string;
  genesysDelete: boolean;
  keyStore?: KeyStore;
  genesys?: GenesysClient;
  sender: Sender;
  topology: Topology;
  serdes: SerdeRegistry;
  clock: Clock;
}): Promise<ErasureRequest> {
  const requestId = randomUUID();
  const keysDestroyed = o.keyStore ? await o.keyStore.destroyCustomer(o.customerId, `erasure request ${requestId}`) : 0;
  let genesysGdprRequestId: string | null = null;
  if (o.genesysDelete) {
    if (!o.genesys) throw Object.assign(new Error('a Genesys GDPR_DELETE was asked for, but Genesys is not configured'), { exitCode: 2 });
    const body = { requestType: 'GDPR_DELETE', subject: { externalContactId: o.customerId } };
    const created = await o.genesys.call<{ id: string }>('postGdprRequests', (a) => a.gdpr.postGdprRequests!(body, { deleteConfirmed: true }));
    genesysGdprRequestId = created.id;
  }
  const request: ErasureRequest = { requestId, customerId: o.customerId, requestedAt: o.clock.now(), source: o.source, keysDestroyed, genesysGdprRequestId };
  await o.sender.send([{ topic: o.topology.topic('erasure.requests').name, key: o.customerId, value: o.serdes.forTopic<ErasureRequest>('erasure.requests').encode(request) }]);
  return request;
}
