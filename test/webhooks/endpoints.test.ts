// Webhook endpoints on both surfaces: CRUD, the secret shown once (at creation and by the
// rotate action), the URL rules (https only, public addresses only, every resolved
// address checked), read-only keys refused, and no organization seeing another's endpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../src/domain/tenant.ts';
import { MAX_WEBHOOK_ENDPOINTS } from '../../src/domain/webhook-endpoints.ts';
import { checkWebhookUrl } from '../../src/domain/webhook-urls.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { createKey, createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { at } from '../support/items.ts';
import { call } from '../rest/support.ts';

const PATH = '/public/v2/webhook-endpoints';
const endpointBody = (attributes: Record<string, unknown>) => ({ data: { type: 'webhookEndpoints', attributes } });
const PUBLIC_URL = 'https://93.184.215.14/hooks';

/** Resolves names as a test says: public.test to a public address, mixed.test to a public and a private one. */
const fakeDns: Record<string, string[]> = {
  'public.test': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'mixed.test': ['93.184.215.14', '10.1.2.3'],
  'rebind.test': ['169.254.169.254'],
};
const lookup = async (hostname: string) => {
  if (hostname === 'localhost') return ['127.0.0.1', '::1'];
  const addresses = fakeDns[hostname];
  if (!addresses) throw new Error('ENOTFOUND');
  return addresses;
};

describe('webhook URL rules', () => {
  const strict = { allowPrivate: false, lookup };
  it.each([
    ['http://93.184.215.14/hooks', 'must be an https URL'],
    ['https://127.0.0.1/hooks', 'loopback'],
    ['https://localhost:8443/hooks', 'the host name localhost must resolve, and only to public addresses'],
    ['https://10.0.0.7/hooks', 'private'],
    ['https://192.168.1.1/', 'private'],
    ['https://169.254.169.254/latest/meta-data', 'linkLocal'],
    ['https://[::1]/hooks', 'loopback'],
    ['https://[fe80::1]/hooks', 'linkLocal'],
    ['https://[::ffff:10.0.0.1]/hooks', 'private'],
    ['https://0.0.0.0/', 'unspecified'],
    ['https://mixed.test/hooks', 'the host name mixed.test must resolve, and only to public addresses'],
    ['https://rebind.test/hooks', 'only to public addresses'],
    ['https://nowhere.test/hooks', 'the host name nowhere.test must resolve, and only to public addresses'],
    ['not a url', 'must be an absolute URL'],
    ['ftp://public.test/', 'must be an https URL'],
    ['https://user:pw@public.test/', 'user name or password'],
  ])('%s is refused (%s)', async (url, reason) => {
    const refusal = await checkWebhookUrl(url, strict).then(
      () => undefined,
      (error: Error & { code?: string }) => error,
    );
    expect(refusal?.code).toBe('VALIDATION_FAILED');
    expect(refusal?.message).toContain(reason);
  });

  // Only global unicast IPv6 (2000::/3) outside its special ranges; IPv4 embedded in an
  // IPv6 address is judged as the IPv4 address it carries, never let through for its form.
  it.each([
    'https://[::127.0.0.1]/x',
    'https://[::10.0.0.1]/x',
    'https://[::8.8.8.8]/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://[::ffff:192.168.0.1]/x',
    'https://[64:ff9b::a00:1]/x',
    'https://[64:ff9b::808:808]/x',
    'https://[64:ff9b:1::1]/x',
    'https://[2002:a00:1::1]/x',
    'https://[2002:7f00:1::1]/x',
    'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x',
    'https://[2001:db8::1]/x',
    'https://[3fff::1]/x',
    'https://[2001:2::1]/x',
    'https://[2001:10::1]/x',
    'https://[fc00::1]/x',
    'https://[fd12:3456::1]/x',
    'https://[fec0::1]/x',
    'https://[ff02::1]/x',
    'https://[100::1]/x',
    'https://[5f00::1]/x',
    'https://[::]/x',
    'https://[1::1]/x',
    'https://[4000::1]/x',
    'https://192.0.2.1/x',
    'https://100.64.0.1/x',
  ])('%s is refused: not a public address', async (url) => {
    const refusal = await checkWebhookUrl(url, strict).then(
      () => undefined,
      (error: Error & { code?: string }) => error,
    );
    expect(refusal?.code).toBe('VALIDATION_FAILED');
    expect(refusal?.message).toContain('must point at a public address');
  });

  it('accepts global unicast IPv6 and IPv4-mapped public IPv4', async () => {
    for (const url of [
      'https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/x',
      'https://[2a00:1450:4001:82a::200e]/x',
      'https://[::ffff:93.184.215.14]/x',
    ]) {
      await expect(checkWebhookUrl(url, strict)).resolves.toBe(url.replace('::ffff:93.184.215.14', '::ffff:5db8:d70e'));
    }
  });

  it('never tells what a host name resolves to, nor whether it resolves at all', async () => {
    const messages: string[] = [];
    for (const url of ['https://localhost:8443/hooks', 'https://mixed.test/hooks', 'https://rebind.test/hooks', 'https://nowhere.test/hooks']) {
      messages.push(
        await checkWebhookUrl(url, strict).then(
          () => '',
          (error: Error) => error.message,
        ),
      );
    }
    for (const message of messages) {
      expect(message).not.toMatch(/127\.0\.0\.1|::1|10\.1\.2\.3|169\.254|loopback|private|linkLocal/);
    }
    // A name that resolves to a private address and one that does not resolve read alike.
    expect(messages.map((message) => message.replace(/https:\/\/[^ ]+|[a-z]+\.test|localhost/g, 'HOST'))).toEqual(
      Array(4).fill(at(messages, 0).replace(/localhost/g, 'HOST')),
    );
  });

  it('accepts https URLs whose every address is public', async () => {
    await expect(checkWebhookUrl('https://public.test/hooks?x=1', strict)).resolves.toBe('https://public.test/hooks?x=1');
    await expect(checkWebhookUrl(PUBLIC_URL, strict)).resolves.toBe(PUBLIC_URL);
  });

  it('allows http and private addresses only when the operator allows private URLs', async () => {
    await expect(checkWebhookUrl('http://127.0.0.1:9/hooks', { allowPrivate: true })).resolves.toBe('http://127.0.0.1:9/hooks');
  });
});

describe.each(databaseTargets())('webhook endpoints on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  let other: TestTenant;
  let readKey: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db, services: { ...defaultServices, webhookUrls: { allowPrivate: false, lookup } } });
    org = await createTestTenant(db, 'write', 'Hooks org');
    other = await createTestTenant(db, 'write', 'Other org');
    readKey = await createKey(db, org.organizationId, 'read');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('creates an endpoint and shows its signing secret once, in the Standard Webhooks format', async () => {
    const created = await call(app, 'POST', PATH, {
      key: org.key,
      body: endpointBody({ url: 'https://public.test/hooks', events: ['flowRun.triggered', 'flowRun.deleted'], description: 'CRM' }),
    });
    expect(created.status).toBe(201);
    const { id, attributes } = created.json.data;
    expect(created.headers.get('Location')).toBe(`${PATH}/${id}`);
    expect(attributes).toMatchObject({
      url: 'https://public.test/hooks',
      events: ['flowRun.triggered', 'flowRun.deleted'],
      enabled: true,
      description: 'CRM',
      disabledReason: null,
    });
    expect(attributes).not.toHaveProperty('secret');
    const secret = created.json.meta.secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);

    const read = await call(app, 'GET', `${PATH}/${id}`, { key: readKey });
    expect(read.status).toBe(200);
    expect(read.json.meta).toEqual({});
    expect(JSON.stringify(read.json)).not.toContain(secret);
    const listed = await call(app, 'GET', PATH, { key: org.key });
    expect(listed.json.data.map((endpoint: { id: string }) => endpoint.id)).toContain(id);
    expect(JSON.stringify(listed.json)).not.toContain(secret);
  });

  it('updates, rotates the secret, and deletes', async () => {
    const created = await call(app, 'POST', PATH, { key: org.key, body: endpointBody({ url: PUBLIC_URL, events: ['flowRun.updated'] }) });
    const id = created.json.data.id;
    const patched = await call(app, 'PATCH', `${PATH}/${id}`, {
      key: org.key,
      body: {
        data: { type: 'webhookEndpoints', id, attributes: { enabled: false, events: ['flowRun.updated', 'flowRun.timedOut'], description: null } },
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.json.data.attributes).toMatchObject({ enabled: false, events: ['flowRun.updated', 'flowRun.timedOut'], description: null });

    const rotated = await call(app, 'POST', `${PATH}/${id}/rotate-secret`, { key: org.key });
    expect(rotated.status).toBe(200);
    expect(rotated.json.data.id).toBe(id);
    expect(rotated.json.meta.secret).toMatch(/^whsec_/);
    expect(rotated.json.meta.secret).not.toBe(created.json.meta.secret);
    const stored = await db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } });
    expect(stored.secret).toBe(rotated.json.meta.secret);

    expect((await call(app, 'DELETE', `${PATH}/${id}`, { key: org.key })).status).toBe(204);
    expect((await call(app, 'GET', `${PATH}/${id}`, { key: org.key })).status).toBe(404);
    expect((await call(app, 'POST', `${PATH}/${id}/rotate-secret`, { key: org.key })).status).toBe(404);

    // Each change is in the audit log, by the key that made it, and no secret is.
    const events = await db.prisma.auditEvent.findMany({ where: { subjectId: id }, orderBy: { sequence: 'asc' } });
    expect(events.map((event) => [event.action, event.actor, event.subjectType, event.organizationId])).toEqual(
      ['created', 'updated', 'secretRotated', 'deleted'].map((action) => [
        `webhookEndpoint.${action}`,
        `apiKey:${org.tenant.apiKeyId}`,
        'webhookEndpoint',
        org.organizationId,
      ]),
    );
    expect(events[1]?.details).toMatchObject({ changed: ['events', 'enabled', 'description'], now: { enabled: false } });
    const logged = JSON.stringify(events.map(({ sequence: _sequence, ...event }) => event));
    expect(logged).not.toContain(created.json.meta.secret);
    expect(logged).not.toContain(rotated.json.meta.secret);
  });

  it('refuses bad input with VALIDATION_FAILED pointing at the attribute', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ url: PUBLIC_URL, events: [] }, '/data/attributes/events', 'at least one'],
      [{ url: PUBLIC_URL, events: ['flowRun.exploded'] }, '/data/attributes/events/0', 'must each be one of'],
      [{ url: 'https://127.0.0.1/x', events: ['flowRun.triggered'] }, '/data/attributes/url', 'loopback'],
      [{ url: 'http://public.test/x', events: ['flowRun.triggered'] }, '/data/attributes/url', 'https'],
      [{ url: 'https://mixed.test/x', events: ['flowRun.triggered'] }, '/data/attributes/url', 'only to public addresses'],
    ];
    for (const [attributes, pointer, detail] of cases) {
      const refused = await call(app, 'POST', PATH, { key: org.key, body: endpointBody(attributes) });
      expect(refused.status, JSON.stringify(attributes)).toBe(400);
      expect(refused.json.errors[0]).toMatchObject({ code: 'VALIDATION_FAILED', source: { pointer } });
      expect(refused.json.errors[0].detail).toContain(detail);
    }
  });

  it('refuses every change with a read-only key, and lets it read', async () => {
    const created = await call(app, 'POST', PATH, { key: org.key, body: endpointBody({ url: PUBLIC_URL, events: ['flowRun.triggered'] }) });
    const id = created.json.data.id;
    const attempts = [
      call(app, 'POST', PATH, { key: readKey, body: endpointBody({ url: PUBLIC_URL, events: ['flowRun.triggered'] }) }),
      call(app, 'PATCH', `${PATH}/${id}`, { key: readKey, body: { data: { type: 'webhookEndpoints', id, attributes: { enabled: false } } } }),
      call(app, 'DELETE', `${PATH}/${id}`, { key: readKey }),
      call(app, 'POST', `${PATH}/${id}/rotate-secret`, { key: readKey }),
    ];
    for (const refused of await Promise.all(attempts)) {
      expect(refused.status).toBe(403);
      expect(refused.json.errors[0].code).toBe('READ_ONLY_KEY');
    }
    const graphql = await sendGraphQL(app, readKey, `mutation { rotateWebhookEndpointSecret(id: "${id}") { secret } }`);
    expect(graphql.errors?.[0]?.extensions?.code).toBe('READ_ONLY_KEY');
    expect((await call(app, 'GET', `${PATH}/${id}`, { key: readKey })).status).toBe(200);
    expect((await db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } })).secret).toBe(created.json.meta.secret);
    expect((await db.prisma.auditEvent.findMany({ where: { subjectId: id } })).map((event) => event.action)).toEqual(['webhookEndpoint.created']);
  });

  it("keeps each organization's endpoints to itself", async () => {
    const created = await call(app, 'POST', PATH, { key: org.key, body: endpointBody({ url: PUBLIC_URL, events: ['flowRun.triggered'] }) });
    const id = created.json.data.id;
    expect((await call(app, 'GET', `${PATH}/${id}`, { key: other.key })).status).toBe(404);
    expect(
      (
        await call(app, 'PATCH', `${PATH}/${id}`, {
          key: other.key,
          body: { data: { type: 'webhookEndpoints', id, attributes: { enabled: false } } },
        })
      ).status,
    ).toBe(404);
    expect((await call(app, 'POST', `${PATH}/${id}/rotate-secret`, { key: other.key })).status).toBe(404);
    expect((await call(app, 'DELETE', `${PATH}/${id}`, { key: other.key })).status).toBe(404);
    const listed = await call(app, 'GET', PATH, { key: other.key });
    expect(listed.json.data).toEqual([]);
    const graphql = await sendGraphQL<{ webhookEndpoint: unknown; webhookEndpoints: { totalCount: number } }, unknown>(
      app,
      other.key,
      `{ webhookEndpoint(id: "${id}") { id } webhookEndpoints { totalCount } }`,
    );
    expect(graphql.data).toEqual({ webhookEndpoint: null, webhookEndpoints: { totalCount: 0 } });
    expect((await db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } })).enabled).toBe(true);
  });

  it(`caps an organization at ${MAX_WEBHOOK_ENDPOINTS} endpoints, also under concurrent creates: 409 LIMIT_REACHED on both surfaces`, async () => {
    const capped = await createTestTenant(db, 'write', 'Capped hooks org');
    const attempts = await Promise.all(
      Array.from({ length: MAX_WEBHOOK_ENDPOINTS + 5 }, () =>
        call(app, 'POST', PATH, { key: capped.key, body: endpointBody({ url: PUBLIC_URL, events: ['flowRun.triggered'] }) }),
      ),
    );
    const statuses = attempts.map((attempt) => attempt.status).sort();
    expect(statuses).toEqual([...Array(MAX_WEBHOOK_ENDPOINTS).fill(201), ...Array(5).fill(409)]);
    const refused = attempts.find((attempt) => attempt.status === 409)!;
    expect(refused.json.errors[0]).toMatchObject({ code: 'LIMIT_REACHED', status: '409' });
    expect(refused.json.errors[0].detail).toContain(`at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints`);
    expect(await db.prisma.webhookEndpoint.count({ where: { organizationId: capped.organizationId } })).toBe(MAX_WEBHOOK_ENDPOINTS);

    const graphql = await sendGraphQL<{ createWebhookEndpoint: { secret: string | null; errors: { __typename: string; code: string }[] } }, unknown>(
      app,
      capped.key,
      `mutation { createWebhookEndpoint(input: { url: "${PUBLIC_URL}", events: ["flowRun.triggered"] }) { secret errors { __typename ... on MutationError { code } } } }`,
    );
    expect(graphql.data?.createWebhookEndpoint).toEqual({ secret: null, errors: [{ __typename: 'LimitReachedError', code: 'LIMIT_REACHED' }] });
    // Another organization is not held back, and deleting one makes room again.
    expect((await call(app, 'POST', PATH, { key: other.key, body: endpointBody({ url: PUBLIC_URL, events: ['flowRun.triggered'] }) })).status).toBe(
      201,
    );
    const id = attempts.find((attempt) => attempt.status === 201)!.json.data.id;
    expect((await call(app, 'DELETE', `${PATH}/${id}`, { key: capped.key })).status).toBe(204);
    expect((await call(app, 'POST', PATH, { key: capped.key, body: endpointBody({ url: PUBLIC_URL, events: ['flowRun.triggered'] }) })).status).toBe(
      201,
    );
  });

  it('serves the same on GraphQL, each mutation answering with a payload', async () => {
    const created = await sendGraphQL<{ createWebhookEndpoint: { secret: string; webhookEndpoint: { id: string; events: string[] } } }, unknown>(
      app,
      org.key,
      `mutation ($input: CreateWebhookEndpointInput!) {
        createWebhookEndpoint(input: $input) { secret webhookEndpoint { id url events enabled } }
      }`,
      { input: { url: PUBLIC_URL, events: ['flowRun.promoted', 'flowRun.promoted'] } },
    );
    expect(created.errors).toBeUndefined();
    const { secret, webhookEndpoint } = created.data!.createWebhookEndpoint;
    expect(secret).toMatch(/^whsec_/);
    expect(webhookEndpoint.events).toEqual(['flowRun.promoted']);
    const updated = await sendGraphQL<{ updateWebhookEndpoint: { webhookEndpoint: { description: string } } }, unknown>(
      app,
      org.key,
      `mutation ($id: UUID!) { updateWebhookEndpoint(id: $id, input: { description: "ERP" }) { webhookEndpoint { description } } }`,
      { id: webhookEndpoint.id },
    );
    expect(updated.data?.updateWebhookEndpoint.webhookEndpoint.description).toBe('ERP');
    const refused = await sendGraphQL(
      app,
      org.key,
      `mutation { createWebhookEndpoint(input: { url: "https://10.0.0.1/", events: ["flowRun.triggered"] }) { secret } }`,
    );
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'url' });
    const deleted = await sendGraphQL<{ deleteWebhookEndpoint: { deletedId: string } }, unknown>(
      app,
      org.key,
      `mutation ($id: UUID!) { deleteWebhookEndpoint(id: $id) { deletedId } }`,
      { id: webhookEndpoint.id },
    );
    expect(deleted.data?.deleteWebhookEndpoint.deletedId).toBe(webhookEndpoint.id);
  });
});
