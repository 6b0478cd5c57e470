import type { SinkPolicy } from './policy.ts';
import type { Purpose } from './types.ts';

/**
 * Right to erasure downstream: which vendors must delete a customer's data, what they answered, and when a request
 * is overdue. Pure; the purge processor keeps the state in stores and emits the commands.
 */

/** HARD_API: deletes for good through an API; SOFT: marks deleted, keeps the data; MANUAL: a person deletes on request; NONE: cannot. */
export const DELETION_CAPABILITIES = ['HARD_API', 'SOFT', 'MANUAL', 'NONE'] as const;
export type DeletionCapability = (typeof DELETION_CAPABILITIES)[number];

/** A downstream system in the vendor registry (topologies/vendors.json): a governance record as much as a purge target. */
export interface Vendor {
  name: string;
  /** Sinks it reads (none: it serves integrations only, and receives no purge command). */
  sinks: string[];
  retentionPolicyId: string;
  deletion: DeletionCapability;
  ackSlaMs: number;
  /** Host names it receives data on, and how long it keeps data technically (for the DPIA's governance check). */
  hosts: string[];
  retentionDays: number | null;
  /** How long its contract lets it keep data (null: the contract says nothing). */
  contractualRetentionDays?: number | null;
  /** How soon it deletes once asked (null: not agreed). */
  deletionSlaHours?: number | null;
  /** Transfer safeguards on record for it: SCC, DPF, BCR. */
  safeguards?: string[];
  /** Genesys integrations (ids or names) that send it data. */
  integrations?: string[];
  /** "postgres": the consentgate analytics store, which executes its purge commands itself. */
  store?: 'postgres';
}

/** Per customer, which sinks received records, for which purposes, and when last (the enforcement's lineage). */
export interface Lineage {
  customerId: string;
  sinks: { sink: string; purposes: Purpose[]; records: number; firstAt: number; lastAt: number }[];
  updatedAt: number;
}

export const ACK_STATUSES = ['PENDING', 'IN_PROGRESS', 'COMPLETED', 'DENIED'] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];
export type VendorStatus = 'SENT' | AckStatus;

export interface VendorRequest {
  vendor: string;
  retentionPolicyId: string;
  status: VendorStatus;
  reason: string | null;
  sentAt: number;
  lastAckAt: number | null;
  resends: number;
  dueAt: number;
  escalatedAt: number | null;
}

/** RETRACTION: records forwarded under an older policy generation that a replay found the new one forbids. */
export type PurgeReason = 'WITHDRAWAL' | 'ERASURE' | 'RETRACTION';

export interface PurgeRequest {
  requestId: string;
  reason: PurgeReason;
  /** The withdrawn purposes; every purpose for an erasure. */
  purposes: Purpose[];
  requestedAt: number;
  vendors: VendorRequest[];
  /** RETRACTION: the records to delete (the others cover all of the customer's data for the purposes). */
  recordIds: string[];
}

export const COMPLIANCE = ['NO_OPEN_REQUESTS', 'PURGE_PENDING', 'PURGE_OVERDUE', 'PURGE_DENIED', 'FULLY_COMPLIANT'] as const;
export type Compliance = (typeof COMPLIANCE)[number];

/** compliance.status: a customer's purge requests and where they stand. */
export interface ComplianceRecord {
  customerId: string;
  status: Compliance;
  erased: boolean;
  requests: PurgeRequest[];
  updatedAt: number;
}

export interface PurgeCommand {
  commandId: string;
  requestId: string;
  type: 'PURGE_REQUEST';
  vendor: string;
  customerId: string;
  retentionPolicyId: string;
  purposes: Purpose[];
  reason: PurgeReason;
  issuedAt: number;
  attempt: number;
  dueAt: number;
  recordIds: string[];
}

export interface PurgeAck {
  requestId: string;
  vendor: string;
  customerId: string;
  status: AckStatus;
  reason: string | null;
  at: number;
}

export interface PurgeEscalation {
  requestId: string;
  vendor: string;
  customerId: string;
  status: VendorStatus;
  dueAt: number;
  escalatedAt: number;
}

/** Requests kept per customer (closed ones beyond this are dropped, oldest first). */
const KEEP_REQUESTS = 20;

/** Records that a sink received a record of the customer for the sink's purposes. */
export function recordDelivery(l: Lineage | undefined, customerId: string, sink: SinkPolicy, at: number): Lineage {
  const sinks = l ? [...l.sinks] : [];
  const i = sinks.findIndex((s) => s.sink === sink.name);
  if (i < 0) sinks.push({ sink: sink.name, purposes: [...sink.requires], records: 1, firstAt: at, lastAt: at });
  else sinks[i] = { ...sinks[i]!, records: sinks[i]!.records + 1, lastAt: at };
  return { customerId, sinks, updatedAt: at };
}

/** Adds deliveries recorded elsewhere (a replay's forwards to a new generation) to a customer's lineage. */
export function mergeLineage(l: Lineage | undefined, add: Lineage): Lineage {
  const sinks = l ? [...l.sinks] : [];
  for (const a of add.sinks) {
    const i = sinks.findIndex((s) => s.sink === a.sink);
    if (i < 0) sinks.push({ ...a, purposes: [...a.purposes] });
    else {
      const s = sinks[i]!;
      sinks[i] = { sink: s.sink, purposes: [...new Set([...s.purposes, ...a.purposes])], records: s.records + a.records, firstAt: Math.min(s.firstAt, a.firstAt), lastAt: Math.max(s.lastAt, a.lastAt) };
    }
  }
  return { customerId: add.customerId, sinks, updatedAt: Math.max(l?.updatedAt ?? 0, add.updatedAt) };
}

/**
 * The vendors that must purge: those reading a sink that received this customer's records for one of `purposes`
 * (every sink that received anything, for an erasure). A vendor appears once.
 */
export function vendorsToPurge(lineage: Lineage | undefined, purposes: Purpose[] | 'ALL', vendors: Vendor[]): Vendor[] {
  const sinks = (lineage?.sinks ?? []).filter((s) => purposes === 'ALL' || s.purposes.some((p) => purposes.includes(p))).map((s) => s.sink);
  return vendors.filter((v) => v.sinks.some((s) => sinks.includes(s)));
}

export function statusOf(requests: PurgeRequest[], now: number): Compliance {
  const vendors = requests.flatMap((r) => r.vendors);
  if (!vendors.length) return 'NO_OPEN_REQUESTS';
  if (vendors.every((v) => v.status === 'COMPLETED')) return 'FULLY_COMPLIANT';
  if (vendors.some((v) => v.status === 'DENIED')) return 'PURGE_DENIED';
  if (vendors.some((v) => v.status !== 'COMPLETED' && now >= v.dueAt)) return 'PURGE_OVERDUE';
  return 'PURGE_PENDING';
}

function command(customerId: string, r: PurgeRequest, v: VendorRequest, now: number, attempt: number): PurgeCommand {
  return {
    commandId: `${r.requestId}:${v.vendor}:${attempt}`, requestId: r.requestId, type: 'PURGE_REQUEST', vendor: v.vendor, customerId,
    retentionPolicyId: v.retentionPolicyId, purposes: r.purposes, reason: r.reason, issuedAt: now, attempt, dueAt: v.dueAt, recordIds: r.recordIds,
  };
}

/**
 * Opens a purge request for the given vendors (none: nothing to do). The request id is derived from its cause, so
 * replaying the cause finds the request already open and issues nothing twice.
 */
export function openRequest(c: ComplianceRecord | undefined, customerId: string, o: { requestId: string; reason: PurgeReason; purposes: Purpose[]; vendors: Vendor[]; now: number; erased?: boolean; recordIds?: string[] }): { record: ComplianceRecord; commands: PurgeCommand[] } | null {
  const record: ComplianceRecord = c ?? { customerId, status: 'NO_OPEN_REQUESTS', erased: false, requests: [], updatedAt: o.now };
  const erased = record.erased || !!o.erased;
  if (record.requests.some((r) => r.requestId === o.requestId) || (!o.vendors.length && erased === record.erased)) return null;
  const request: PurgeRequest = {
    requestId: o.requestId, reason: o.reason, purposes: o.purposes, requestedAt: o.now, recordIds: o.recordIds ?? [],
    vendors: o.vendors.map((v) => ({ vendor: v.name, retentionPolicyId: v.retentionPolicyId, status: 'SENT', reason: null, sentAt: o.now, lastAckAt: null, resends: 0, dueAt: o.now + v.ackSlaMs, escalatedAt: null })),
  };
  const requests = o.vendors.length ? [...record.requests, request] : record.requests;
  const kept = requests.length > KEEP_REQUESTS ? requests.filter((r, i) => i >= requests.length - KEEP_REQUESTS || r.vendors.some((v) => v.status !== 'COMPLETED')) : requests;
  const next = { ...record, erased, requests: kept, status: statusOf(kept, o.now), updatedAt: o.now };
  return { record: next, commands: request.vendors.map((v) => command(customerId, request, v, o.now, 1)) };
}

/** Applies a vendor's acknowledgement; an ack for an unknown request or vendor, or a replayed one, changes nothing. */
export function applyAck(c: ComplianceRecord | undefined, ack: PurgeAck, now: number): ComplianceRecord | null {
  const r = c?.requests.find((x) => x.requestId === ack.requestId);
  const v = r?.vendors.find((x) => x.vendor === ack.vendor);
  if (!c || !r || !v || v.status === 'COMPLETED' || (v.status === ack.status && v.lastAckAt === ack.at)) return null;
  const requests = c.requests.map((x) => x !== r ? x : {
    ...x,
    vendors: x.vendors.map((y) => (y !== v ? y : { ...y, status: ack.status, reason: ack.reason, lastAckAt: ack.at })),
  });
  return { ...c, requests, status: statusOf(requests, now), updatedAt: now };
}

/**
 * The SLA tracker, run on a timer: a vendor that has not acknowledged at all is sent the request again every quarter
 * of its SLA (at most three times); one that has not completed by its due time is escalated, once.
 */
/** Per vendor: purge commands not completed (outstanding) and those of them past their SLA (overdue). */
export function purgeBacklog(records: Iterable<ComplianceRecord>, vendors: string[], now: number): Map<string, { outstanding: number; overdue: number }> {
  const out = new Map(vendors.map((v) => [v, { outstanding: 0, overdue: 0 }]));
  for (const c of records) {
    for (const r of c.requests) {
      for (const v of r.vendors) {
        if (v.status === 'COMPLETED') continue;
        const b = out.get(v.vendor) ?? { outstanding: 0, overdue: 0 };
        b.outstanding++;
        if (now >= v.dueAt) b.overdue++;
        out.set(v.vendor, b);
      }
    }
  }
  return out;
}

export function slaTick(c: ComplianceRecord, now: number, slaOf: (vendor: string) => number): { record: ComplianceRecord; commands: PurgeCommand[]; escalations: PurgeEscalation[] } | null {
  const commands: PurgeCommand[] = [];
  const escalations: PurgeEscalation[] = [];
  const requests = c.requests.map((r) => ({
    ...r,
    vendors: r.vendors.map((v) => {
      let next = v;
      if (v.status === 'SENT' && v.resends < 3 && now - v.sentAt >= slaOf(v.vendor) / 4) {
        next = { ...next, sentAt: now, resends: v.resends + 1 };
        commands.push(command(c.customerId, r, next, now, next.resends + 1));
      }
      if (next.status !== 'COMPLETED' && next.escalatedAt === null && now >= next.dueAt) {
        next = { ...next, escalatedAt: now };
        escalations.push({ requestId: r.requestId, vendor: v.vendor, customerId: c.customerId, status: next.status, dueAt: next.dueAt, escalatedAt: now });
      }
      return next;
    }),
  }));
  const status = statusOf(requests, now);
  if (!commands.length && !escalations.length && status === c.status) return null;
  return { record: { ...c, requests, status, updatedAt: now }, commands, escalations };
}
