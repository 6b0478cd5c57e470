// A synthetic Genesys org for `dpia assess --all`: integrations (web services, data actions, EventBridge) with the
// OAuth clients they use, Terraform for the aws and genesyscloud providers, and lone OAuth clients. Deterministic.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const HOSTS = ['https://acme.my.salesforce.com/services/data', 'https://api.crm-sync.example.eu/v1', 'https://hooks.vendor-x.example.com/in', 'http://legacy.example.org/push', 'https://abc123.execute-api.ap-south-1.amazonaws.com/prod'];
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'eu-west-2', 'ap-southeast-2'];
const SCOPES = [['conversations:readonly'], ['external-contacts:readonly', 'conversations:readonly'], ['recordings:readonly'], ['analytics:readonly']];

const client = (i: number) => ({
  id: `oc-${i}`, name: `Client ${i}`, authorizedGrantType: 'CLIENT-CREDENTIALS', scope: SCOPES[i % SCOPES.length], registeredRedirectUri: [], state: 'active', secret: 'x',
});
const integration = (i: number) => i % 3 === 0
  ? { id: `int-${i}`, name: `EventBridge ${i}`, integrationType: { id: 'amazon-eventbridge-source' }, config: { current: { properties: { awsAccountId: '490606849374', awsAccountRegion: REGIONS[i % REGIONS.length], eventFilter: ['v2.detail.events.conversation.{id}.customer.start'] } } } }
  : { id: `int-${i}`, name: `Web services ${i}`, integrationType: { id: 'custom-rest-actions' }, config: { current: { properties: { baseUrl: HOSTS[i % HOSTS.length], fields: ['workEmail', 'conversationId'] } } } };
const terraform = (i: number) => `provider "aws" {
  region = var.region
}
variable "region" {
  default = "${REGIONS[(i + 2) % REGIONS.length]}"
}
resource "aws_cloudwatch_event_bus" "genesys" {
  name = "genesys-${i}"
}
resource "aws_lambda_function" "enrich" {
  function_name = "enrich-${i}"
  role          = "arn:aws:iam::490606849374:role/enrich"
}
resource "genesyscloud_integration_action" "push" {
  name = "Push ${i}"
  config_request {
    request_url_template = "${HOSTS[(i + 1) % HOSTS.length]}/contacts"
    request_type         = "POST"
  }
}
`;

/** Writes `integrations` flows under dir: the first `terraformFiles` as directories (integration, its OAuth client, main.tf), the rest as lone JSON files (integrations and OAuth clients alternating). */
export function writeOrg(dir: string, integrations: number, terraformFiles: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < integrations; i++) {
    if (i < terraformFiles) {
      const d = join(dir, `flow-${String(i).padStart(4, '0')}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'integration.json'), JSON.stringify(integration(i)));
      writeFileSync(join(d, 'oauth-client.json'), JSON.stringify(client(i)));
      writeFileSync(join(d, 'main.tf'), terraform(i));
    } else {
      writeFileSync(join(dir, `${i % 2 ? 'client' : 'integration'}-${String(i).padStart(4, '0')}.json`), JSON.stringify(i % 2 ? client(i) : integration(i)));
    }
  }
}
