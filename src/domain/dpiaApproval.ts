/**
 * Approvals and time-bound exceptions of DPIA artifacts (the guide's "Time-Bound Exception" model). Pure.
 * - APPROVED_FOR_DEPLOYMENT needs nothing.
 * - PENDING_APPROVAL needs one approval by a DPO or security lead; it stands until the artifact is superseded.
 * - BLOCKED_FOR_DEPLOYMENT can only be covered by an exception: time-bound (72 h by default), with a reason, and for
 *   a Critical risk by two distinct approvers. An expired exception covers nothing: the integration must be
 *   re-assessed.
 */

export const APPROVER_ROLES = ['DPO', 'SECURITY_LEAD'] as const;
export type ApproverRole = (typeof APPROVER_ROLES)[number];
export const DEFAULT_EXCEPTION_HOURS = 72;

export interface Approval {
  dpiaId: string;
  approver: string;
  role: ApproverRole;
  reason: string;
  at: number;
  /** Set for an exception to a blocked artifact. */
  expiresAt: number | null;
}

export interface GatedArtifact {
  dpia_id: string;
  compliance_status: 'APPROVED_FOR_DEPLOYMENT' | 'PENDING_APPROVAL' | 'BLOCKED_FOR_DEPLOYMENT';
  risk_assessment: { overall_risk_score: string };
}

export type ApprovalRequest = { approver: string; role: string; reason: string; at: number; hours?: number };

/**
 * Validates an approval request against the artifact and the approvals on record; expected refusals are values, not
 * exceptions. Idempotent: an artifact its assessment approved, a pending one already approved, or an exception this
 * approver already holds unexpired needs nothing recorded (`already` says why).
 */
export function approve(a: GatedArtifact, r: ApprovalRequest, existing: Approval[] = []): { ok: true; approval: Approval } | { ok: true; already: string } | { ok: false; reason: string } {
  if (!APPROVER_ROLES.includes(r.role as ApproverRole)) return { ok: false, reason: `role must be one of ${APPROVER_ROLES.join(', ')}` };
  if (!r.approver.trim()) return { ok: false, reason: 'the approver is required' };
  if (r.reason.trim().length < 10) return { ok: false, reason: 'a reason of at least 10 characters is required: it is the audit record' };
  if (a.compliance_status === 'APPROVED_FOR_DEPLOYMENT') return { ok: true, already: `${a.dpia_id} is APPROVED_FOR_DEPLOYMENT by its assessment: no approval is needed` };
  const mine = existing.filter((x) => x.dpiaId === a.dpia_id);
  const first = mine[0];
  if (a.compliance_status === 'PENDING_APPROVAL' && first) return { ok: true, already: `${a.dpia_id} is approved already (${first.role} ${first.approver}, ${new Date(first.at).toISOString()})` };
  const held = mine.find((x) => x.approver === r.approver.trim() && x.expiresAt !== null && x.expiresAt > r.at);
  if (held) return { ok: true, already: `${r.approver.trim()} holds an exception for ${a.dpia_id} until ${new Date(held.expiresAt!).toISOString()} already` };
  const hours = r.hours ?? DEFAULT_EXCEPTION_HOURS;
  if (!(hours > 0 && hours <= DEFAULT_EXCEPTION_HOURS)) return { ok: false, reason: `an exception lasts at most ${DEFAULT_EXCEPTION_HOURS} hours` };
  const expiresAt = a.compliance_status === 'BLOCKED_FOR_DEPLOYMENT' ? r.at + hours * 3_600_000 : null;
  return { ok: true, approval: { dpiaId: a.dpia_id, approver: r.approver.trim(), role: r.role as ApproverRole, reason: r.reason.trim(), at: r.at, expiresAt } };
}

export type GateResult = { ok: true; via: 'ARTIFACT' | 'APPROVAL' | 'EXCEPTION'; validUntil: number | null } | { ok: false; reason: string };

/** Whether the artifact may be deployed at `now`, given the approvals recorded for it. */
export function gate(a: GatedArtifact, approvals: Approval[], now: number): GateResult {
  if (a.compliance_status === 'APPROVED_FOR_DEPLOYMENT') return { ok: true, via: 'ARTIFACT', validUntil: null };
  const mine = approvals.filter((x) => x.dpiaId === a.dpia_id);
  if (a.compliance_status === 'PENDING_APPROVAL') {
    return mine.length ? { ok: true, via: 'APPROVAL', validUntil: null } : { ok: false, reason: 'PENDING_APPROVAL: a DPO or security lead must approve (consentgate dpia approve)' };
  }
  const live = mine.filter((x) => x.expiresAt !== null && x.expiresAt > now);
  const expired = mine.filter((x) => x.expiresAt !== null && x.expiresAt <= now);
  const approvers = [...new Set(live.map((x) => x.approver))];
  const needed = a.risk_assessment.overall_risk_score === 'Critical' ? 2 : 1;
  if (approvers.length >= needed) return { ok: true, via: 'EXCEPTION', validUntil: Math.min(...live.map((x) => x.expiresAt!)) };
  if (!live.length && expired.length) return { ok: false, reason: 'BLOCKED_FOR_DEPLOYMENT: the exception expired; re-assess the integration' };
  if (approvers.length) return { ok: false, reason: `BLOCKED_FOR_DEPLOYMENT: a Critical risk needs ${needed} distinct approvers, has ${approvers.length} (${approvers.join(', ')})` };
  return { ok: false, reason: 'BLOCKED_FOR_DEPLOYMENT' };
}
