/**
 * Where a hop of a data flow is: the jurisdiction of a host name or an ARN, read from the cloud region it names
 * (AWS, Azure, Google Cloud), or from the Genesys Cloud region of a Genesys host. Pure tables, no look-ups: a host
 * that names no region (api.vendor.com) has no known jurisdiction here — only the allow-list can say where it is.
 * Jurisdictions are ISO country codes, except EU (a member state: one legal area for transfers) and EEA (Norway,
 * Iceland, Liechtenstein).
 */

export interface Location {
  jurisdiction: string;
  /** The region as its provider names it: `AWS us-east-1`, `Azure westeurope`, `Genesys Cloud mypurecloud.ie`. */
  region: string;
}

const AWS: Record<string, string> = {
  'us-east-1': 'US', 'us-east-2': 'US', 'us-west-1': 'US', 'us-west-2': 'US', 'us-gov-west-1': 'US', 'us-gov-east-1': 'US',
  'ca-central-1': 'CA', 'ca-west-1': 'CA', 'mx-central-1': 'MX', 'sa-east-1': 'BR',
  'eu-west-1': 'EU', 'eu-west-3': 'EU', 'eu-central-1': 'EU', 'eu-north-1': 'EU', 'eu-south-1': 'EU', 'eu-south-2': 'EU',
  'eu-west-2': 'UK', 'eu-central-2': 'CH',
  'ap-northeast-1': 'JP', 'ap-northeast-3': 'JP', 'ap-northeast-2': 'KR', 'ap-southeast-1': 'SG', 'ap-southeast-2': 'AU',
  'ap-southeast-3': 'ID', 'ap-southeast-4': 'AU', 'ap-southeast-5': 'MY', 'ap-south-1': 'IN', 'ap-south-2': 'IN', 'ap-east-1': 'HK',
  'me-south-1': 'BH', 'me-central-1': 'AE', 'af-south-1': 'ZA', 'il-central-1': 'IL',
};

const AZURE: Record<string, string> = {
  westeurope: 'EU', northeurope: 'EU', francecentral: 'EU', francesouth: 'EU', germanywestcentral: 'EU', germanynorth: 'EU',
  swedencentral: 'EU', italynorth: 'EU', polandcentral: 'EU', spaincentral: 'EU', norwayeast: 'EEA', norwaywest: 'EEA',
  uksouth: 'UK', ukwest: 'UK', switzerlandnorth: 'CH', switzerlandwest: 'CH',
  eastus: 'US', eastus2: 'US', westus: 'US', westus2: 'US', westus3: 'US', centralus: 'US', southcentralus: 'US', northcentralus: 'US', westcentralus: 'US',
  canadacentral: 'CA', canadaeast: 'CA', brazilsouth: 'BR', japaneast: 'JP', japanwest: 'JP', koreacentral: 'KR', koreasouth: 'KR',
  australiaeast: 'AU', australiasoutheast: 'AU', southeastasia: 'SG', eastasia: 'HK', centralindia: 'IN', southindia: 'IN',
  uaenorth: 'AE', qatarcentral: 'QA', southafricanorth: 'ZA', israelcentral: 'IL',
};

const GCP: Record<string, string> = {
  'europe-west1': 'EU', 'europe-west3': 'EU', 'europe-west4': 'EU', 'europe-west8': 'EU', 'europe-west9': 'EU', 'europe-west10': 'EU',
  'europe-west12': 'EU', 'europe-north1': 'EU', 'europe-central2': 'EU', 'europe-southwest1': 'EU', 'europe-west2': 'UK', 'europe-west6': 'CH',
  'us-central1': 'US', 'us-east1': 'US', 'us-east4': 'US', 'us-east5': 'US', 'us-south1': 'US', 'us-west1': 'US', 'us-west2': 'US', 'us-west3': 'US', 'us-west4': 'US',
  'northamerica-northeast1': 'CA', 'northamerica-northeast2': 'CA', 'southamerica-east1': 'BR', 'asia-northeast1': 'JP', 'asia-northeast2': 'JP',
  'asia-northeast3': 'KR', 'asia-southeast1': 'SG', 'asia-southeast2': 'ID', 'asia-south1': 'IN', 'asia-east1': 'TW', 'asia-east2': 'HK',
  'australia-southeast1': 'AU', 'me-west1': 'IL', 'me-central1': 'QA',
};

/** Genesys Cloud regions by the domain their API answers on (api.<domain>, login.<domain>, apps.<domain>). */
const GENESYS: Record<string, string> = {
  'mypurecloud.com': 'US', 'usw2.pure.cloud': 'US', 'use2.us-gov-pure.cloud': 'US', 'cac1.pure.cloud': 'CA', 'sae1.pure.cloud': 'BR',
  'mypurecloud.ie': 'EU', 'mypurecloud.de': 'EU', 'euw2.pure.cloud': 'UK', 'euc2.pure.cloud': 'CH',
  'mypurecloud.jp': 'JP', 'apne3.pure.cloud': 'JP', 'apne2.pure.cloud': 'KR', 'mypurecloud.com.au': 'AU', 'aps1.pure.cloud': 'IN', 'mec1.pure.cloud': 'AE',
};

/** The AWS region named in an AWS host (`events.eu-west-1.amazonaws.com`, `x.execute-api.us-east-1.amazonaws.com`, `x.lambda-url.us-east-1.on.aws`). */
const AWS_HOST = /(?:^|\.)([a-z]{2}(?:-gov)?-[a-z]+-\d)\.(?:amazonaws\.com(?:\.cn)?|on\.aws)$/;
const AZURE_HOST = /(?:^|\.)([a-z]+\d?)\.(?:cloudapp\.azure\.com|azurecontainerapps\.io|inference\.ml\.azure\.com|api\.cognitive\.microsoft\.com)$/;
const GCP_HOST = /^([a-z]+-[a-z]+\d+)-[a-z0-9-]+\.cloudfunctions\.net$|^([a-z]+-[a-z]+\d+)-[a-z]+\.googleapis\.com$/;
/** `arn:partition:service:region:account:resource` of a service that receives or holds data (not IAM, KMS and the like). */
export const ARN_RE = /\barn:aws(?:-[a-z]+)?:(lambda|sqs|sns|events|states|kinesis|firehose|s3|execute-api|dynamodb|es|logs):([a-z0-9-]*):(\d{12})?:[^\s"'},)]+/g;

export function locateHost(host: string): Location | null {
  const h = host.toLowerCase();
  if (h.startsWith('arn:')) return locateArn(h);
  const aws = AWS_HOST.exec(h)?.[1];
  if (aws && AWS[aws]) return { jurisdiction: AWS[aws]!, region: `AWS ${aws}` };
  const azure = AZURE_HOST.exec(h)?.[1];
  if (azure && AZURE[azure]) return { jurisdiction: AZURE[azure]!, region: `Azure ${azure}` };
  const g = GCP_HOST.exec(h);
  const gcp = g?.[1] ?? g?.[2];
  if (gcp && GCP[gcp]) return { jurisdiction: GCP[gcp]!, region: `Google Cloud ${gcp}` };
  for (const [domain, jurisdiction] of Object.entries(GENESYS)) {
    if (h === domain || h.endsWith(`.${domain}`)) return { jurisdiction, region: `Genesys Cloud ${domain}` };
  }
  return null;
}

/** The region of an AWS ARN (`arn:aws:lambda:us-east-1:123456789012:function:enrich`); global services name none. */
export function locateArn(arn: string): Location | null {
  const region = arn.split(':')[3] ?? '';
  return AWS[region] ? { jurisdiction: AWS[region]!, region: `AWS ${region}` } : null;
}

/**
 * Middleware rather than an endpoint: a serverless function, a queue, a topic, an event bus or an API gateway of a
 * cloud account (the integration's own infrastructure), through which the data travels on to its endpoint.
 */
export function isHop(host: string): boolean {
  const h = host.toLowerCase();
  if (h.startsWith('arn:')) return /^arn:aws[a-z-]*:(lambda|sqs|sns|events|states|kinesis|firehose|execute-api):/.test(h);
  return /(^|\.)(events|lambda|sqs|sns|execute-api|lambda-url|states|kinesis|firehose)\.[a-z0-9-]+\.(amazonaws\.com|on\.aws)$/.test(h) ||
    /\.(cloudfunctions\.net|azurewebsites\.net|azure-api\.net|servicebus\.windows\.net|azurecontainerapps\.io|run\.app)$/.test(h);
}
