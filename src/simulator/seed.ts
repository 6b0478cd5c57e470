import { mulberry32, seededToken, seededUuid } from './ids.ts';

/** Ids of the default org, all drawn from the simulator seed in a fixed order. */
export interface OrgSeed {
  orgId: string;
  clientId: string;
  clientSecret: string;
  divisionId: string;
  schemaId: string;
  queueIds: string[];
  agents: { userId: string; name: string }[];
  admin: { userId: string; userName: string; clientId: string };
  crmSyncClient: { id: string; secret: string };
  integrationIds: { crm: string; eventBridge: string; dataActions: string };
  contactIds: string[];
  /** Source of ids for entities created after start-up. */
  newId: () => string;
}

export function orgSeed(seed: number, o: { orgId?: string; clientId?: string; clientSecret?: string }): OrgSeed {
  const rand = mulberry32(seed);
  const id = () => seededUuid(rand);
  const orgId = id();
  const clientId = id();
  const clientSecret = seededToken(rand, 43);
  const runtime = mulberry32((seed ^ 0x5bd1e995) >>> 0);
  return {
    orgId: o.orgId ?? orgId,
    clientId: o.clientId ?? clientId,
    clientSecret: o.clientSecret ?? clientSecret,
    divisionId: id(),
    schemaId: id(),
    queueIds: [id(), id()],
    agents: ['Alex Agent', 'Blair Agent', 'Casey Agent'].map((name) => ({ userId: id(), name })),
    admin: { userId: id(), userName: 'Org Admin', clientId: id() },
    crmSyncClient: { id: id(), secret: seededToken(rand, 43) },
    integrationIds: { crm: id(), eventBridge: id(), dataActions: id() },
    contactIds: [id(), id(), id()],
    newId: () => seededUuid(runtime),
  };
}

/** Properties of the org's amazon-eventbridge-source integration (besides its eventFilter). */
export const EVENTBRIDGE_SOURCE = { eventSourceSuffix: 'consentgate', awsAccountId: '123456789012', awsAccountRegion: 'eu-west-1' } as const;

export const SEED_CONTACTS = [
  { firstName: 'Ada', lastName: 'Lovelace', workEmail: 'ada.lovelace@example.com', cellPhone: { e164: '+447700900001' }, consent: { marketing: true, analytics: true, thirdParty: false, source: 'Web' } },
  { firstName: 'Grace', lastName: 'Hopper', workEmail: 'grace.hopper@example.com', cellPhone: { e164: '+15555550102' }, consent: { marketing: false, analytics: true, thirdParty: false, source: 'Phone' } },
  { firstName: 'Alan', lastName: 'Turing', workEmail: 'alan.turing@example.com', cellPhone: { e164: '+447700900003' }, consent: null },
];
