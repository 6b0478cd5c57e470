import { definitionOf } from '../adapters/definitions.ts';
import type { GenesysClient } from '../adapters/genesys.ts';
import type { Logger } from '../adapters/logger.ts';
import type { Clock } from '../domain/clock.ts';
import type { IntegrationChange, IntegrationEntityType, Mapped } from '../domain/genesysEvents.ts';
import type { Checkpoints } from './checkpoints.ts';
import type { Sender, SourceSink } from './sink.ts';

const SOURCE = 'genesys-integrations';
const PAGE = 100;

interface Seen {
  hash: string;
  name: string | null;
}

/** The definition as the single-entity GETs return it: an OAuth client, or an integration with its current config. */
export async function fetchDefinition(genesys: GenesysClient, type: IntegrationEntityType, id: string): Promise<unknown> {
  if (type === 'OAUTH_CLIENT') return genesys.call('getOauthClient', (a) => a.oauth.getOauthClient!(id));
  const [integration, config] = await Promise.all([
    genesys.call('getIntegration', (a) => a.integrations.getIntegration!(id)),
    genesys.call('getIntegrationConfigCurrent', (a) => a.integrations.getIntegrationConfigCurrent!(id)),
  ]);
  return { ...(integration as object), config: { current: config } };
}

/** Every OAuth client (one listing, no paging in the API) and every integration (paged). */
export async function listIntegrations(genesys: GenesysClient): Promise<{ type: IntegrationEntityType; id: string; name: string | null }[]> {
  const out: { type: IntegrationEntityType; id: string; name: string | null }[] = [];
  const clients = await genesys.call<{ entities?: { id: string; name?: string }[] }>('getOauthClients', (a) => a.oauth.getOauthClients!());
  for (const c of clients.entities ?? []) out.push({ type: 'OAUTH_CLIENT', id: c.id, name: c.name ?? null });
  for (let page = 1; ; page++) {
    const res = await genesys.call<{ entities?: { id: string; name?: string }[]; pageCount?: number }>('getIntegrations', (a) =>
      a.integrations.getIntegrations!({ pageSize: PAGE, pageNumber: page }));
    for (const i of res.entities ?? []) out.push({ type: 'INTEGRATION', id: i.id, name: i.name ?? null });
    if ((res.entities ?? []).length < PAGE || page >= (res.pageCount ?? page)) break;
  }
  return out;
}

/**
 * OAuth clients and integrations → integrations.changes. Audit events (over the socket or EventBridge) report
 * changes as they happen; they are enriched here with the current definition. A periodic listing, diffed
 * against the definitions last seen (kept in connect.offsets), catches whatever no audit event reported —
 * including changes made while the connector was down. Change ids are derived from the definition hash, so a
 * change seen by both paths is the same change.
 */
export class IntegrationWatcher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  readonly stats = { listings: 0, changes: 0 };

  constructor(private readonly d: { genesys: GenesysClient; sink: SourceSink; checkpoints: Checkpoints; checkpointSender: Sender; clock: Clock; logger: Logger; intervalMs: number }) {}

  start(): void {
    const tick = () => {
      this.listOnce().catch((err) => this.d.logger.error({ err: (err as Error).message }, 'integration listing failed'));
    };
    tick();
    this.timer = setInterval(tick, this.d.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }

  private key(type: IntegrationEntityType, id: string): string {
    return `integrations:${type}:${id}`;
  }

  private current(type: IntegrationEntityType, id: string): Promise<unknown> {
    return fetchDefinition(this.d.genesys, type, id);
  }

  /** For the notifications source: an audited change gets the current definition, and the listing learns it. */
  readonly enrich = async (m: Mapped): Promise<Mapped> => {
    if (m.kind !== 'integration') return m;
    const change = m.value;
    if (change.action === 'DELETE') {
      await this.d.checkpointSender.send([this.d.checkpoints.record(this.key(change.entityType, change.integrationId), null)]);
      return m;
    }
    const { definition, hash } = definitionOf(await this.current(change.entityType, change.integrationId));
    await this.d.checkpointSender.send([this.d.checkpoints.record(this.key(change.entityType, change.integrationId), { hash, name: change.name } satisfies Seen)]);
    return { ...m, value: { ...change, definition, definitionHash: hash } };
  };

  /** Lists everything once and writes a change for every difference; resolves the number of changes. */
  listOnce(): Promise<number> {
    this.running ??= this.list().finally(() => (this.running = undefined));
    return this.running;
  }

  private async list(): Promise<number> {
    const found = new Map((await listIntegrations(this.d.genesys)).map((f) => [this.key(f.type, f.id), f]));
    const now = this.d.clock.now();
    const changes: IntegrationChange[] = [];
    for (const [key, f] of found) {
      const seen = this.d.checkpoints.get<Seen>(key);
      // The single-entity GETs, as the audit path uses, so both paths hash the same document.
      let raw: unknown;
      try {
        raw = await this.current(f.type, f.id);
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
        found.delete(key); // deleted since it was listed: the delete is reported below
        continue;
      }
      const { definition, hash } = definitionOf(raw);
      if (seen?.hash === hash) continue;
      changes.push({
        changeId: `listing:${f.id}:${hash.slice(0, 16)}`, integrationId: f.id, entityType: f.type, action: seen ? 'UPDATE' : 'CREATE', detectedBy: 'LISTING',
        name: f.name, occurredAt: now, changedBy: null, propertyChanges: [], definition, definitionHash: hash,
      });
    }
    for (const [key, seen] of this.d.checkpoints.entries<Seen>('integrations:')) {
      if (found.has(key)) continue;
      const [, type, id] = key.split(':') as [string, IntegrationEntityType, string];
      changes.push({
        changeId: `listing:${id}:deleted`, integrationId: id, entityType: type, action: 'DELETE', detectedBy: 'LISTING',
        name: seen.name, occurredAt: now, changedBy: null, propertyChanges: [], definition: null, definitionHash: null,
      });
    }
    if (changes.length) {
      await this.d.sink.write(changes.map((value) => ({ mapped: { kind: 'integration', key: value.integrationId, value }, origin: { source: SOURCE, what: 'listing', raw: Buffer.from(value.definition ?? '') } })));
      await this.d.checkpointSender.send(changes.map((c) => this.d.checkpoints.record(this.key(c.entityType, c.integrationId), c.action === 'DELETE' ? null : { hash: c.definitionHash!, name: c.name } satisfies Seen)));
    }
    this.stats.listings++;
    this.stats.changes += changes.length;
    return changes.length;
  }
}
