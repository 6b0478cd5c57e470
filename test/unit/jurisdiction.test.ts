import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isHop, locateArn, locateHost } from '../../src/domain/jurisdiction.ts';

it('locates hosts and ARNs by the AWS, Azure, Google Cloud or Genesys Cloud region they name, and nothing else', () => {
  const where = (h: string) => { const l = locateHost(h); return l && `${l.jurisdiction} ${l.region}`; };
  assert.equal(where('events.eu-west-1.amazonaws.com'), 'EU AWS eu-west-1');
  assert.equal(where('abc.execute-api.ap-south-1.amazonaws.com'), 'IN AWS ap-south-1');
  assert.equal(where('x1y2.lambda-url.us-east-2.on.aws'), 'US AWS us-east-2');
  assert.equal(where('sqs.eu-west-2.amazonaws.com'), 'UK AWS eu-west-2');
  assert.equal(where('myapp.westeurope.cloudapp.azure.com'), 'EU Azure westeurope');
  assert.equal(where('api.eastus.azurecontainerapps.io'), 'US Azure eastus');
  assert.equal(where('europe-west2-myproject.cloudfunctions.net'), 'UK Google Cloud europe-west2');
  assert.equal(where('us-central1-aiplatform.googleapis.com'), 'US Google Cloud us-central1');
  assert.equal(where('api.mypurecloud.ie'), 'EU Genesys Cloud mypurecloud.ie');
  assert.equal(where('api.usw2.pure.cloud'), 'US Genesys Cloud usw2.pure.cloud');
  assert.equal(where('api.mypurecloud.com.au'), 'AU Genesys Cloud mypurecloud.com.au');
  assert.equal(where('arn:aws:lambda:ca-central-1:123456789012:function:x'), 'CA AWS ca-central-1');
  for (const unknown of ['api.vendor.com', 'hooks.example.eu', 's3.amazonaws.com', 'evil-eu-west-1.amazonaws.com.attacker.net']) assert.equal(where(unknown), null, unknown);
  assert.equal(locateArn('arn:aws:iam::123456789012:role/x'), null, 'a global service names no region');
});

it('tells middleware hops from endpoints', () => {
  for (const hop of ['events.us-east-1.amazonaws.com', 'arn:aws:sqs:eu-west-1:1:q', 'x.execute-api.eu-west-1.amazonaws.com', 'fn.azurewebsites.net', 'europe-west1-p.cloudfunctions.net']) assert.ok(isHop(hop), hop);
  for (const endpoint of ['api.crm-sync.example.eu', 'acme.my.salesforce.com', 'arn:aws:iam::1:role/x']) assert.ok(!isHop(endpoint), endpoint);
});
