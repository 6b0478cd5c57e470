// What DPIA commands and the DPIA watcher need besides the domain: the reference files and the store. Kept apart
// from app.ts so that `consentgate dpia …` (a CI gate) loads neither Kafka nor the pipeline.
import { resolve } from 'node:path';
import { loadClassification, loadDestinations } from './adapters/dpiaInputs.ts';
import { DpiaStore } from './adapters/dpiaStore.ts';
import { ConfigSchema, type Config } from './config.ts';
import { PROJECT_ROOT } from './paths.ts';
import { loadVendors } from './runtime/topology.ts';
import { loadTopology } from './topology.ts';

/** What every DPIA is assessed against: classification, allowed destinations and the vendor registry (files). */
export function referenceData(o: { classification?: string; destinations?: string; vendors?: string } = {}) {
  const defaults = ConfigSchema.shape;
  const topology = loadTopology(resolve(PROJECT_ROOT, defaults.topologyFile.parse(undefined)));
  return {
    classification: loadClassification(o.classification ?? resolve(PROJECT_ROOT, 'topologies/classification.json')),
    destinations: loadDestinations(o.destinations ?? resolve(PROJECT_ROOT, 'topologies/destinations.json')),
    vendors: loadVendors(o.vendors ?? resolve(PROJECT_ROOT, defaults.vendorsFile.parse(undefined)), topology),
  };
}

/** The DPIA store: PostgreSQL at DATABASE_URL, else an embedded PGlite (its directory relative to the working directory). */
export function openDpiaStore(c: Pick<Config, 'databaseUrl' | 'dpiaStoreDir' | 'dpiaStoreSchema'>): Promise<DpiaStore> {
  return DpiaStore.open({ databaseUrl: c.databaseUrl, dataDir: resolve(c.dpiaStoreDir), schema: c.dpiaStoreSchema });
}
