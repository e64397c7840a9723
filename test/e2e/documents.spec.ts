import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRole } from '@benteng/database';
import { buildApi, type TestApi } from '../support/api.js';
import { appPool, ownerPool } from '../support/db.js';
import { insertInvoice, ROLES, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { arranged, problemOf, PublicClient, testPassword, type ApiResponse } from '../support/public-api.js';
import { tag } from '../security/support/controls.js';

/**
 * Documents on /v1 (libs/documents): the type comes from the bytes (magic numbers, strict UTF-8
 * text), the name is rebuilt around it, uploads are capped while they stream, downloads are
 * attachments with nosniff, a link points only at an invoice or ticket the caller can see, and a
 * document of another tenant is as missing as one that never existed. Every test makes its own
 * tenants, so they run in any order.
 */
const DOCUMENT_KEYS = ['contentType', 'createdAt', 'fileName', 'id', 'link', 'sha256', 'size', 'uploadedByMe'];
const MAX_BYTES = 10 * 1024 * 1024;

interface DocumentBody {
  id: string;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  link: { invoiceId: string } | { ticketId: string } | null;
  uploadedByMe: boolean;
  createdAt: string;
}

// --- Tiny valid files, built byte by byte. ---------------------------------------------------------

const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n' +
    'trailer <</Root 1 0 R>>\n%%EOF\n',
);

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A 1x1 greyscale PNG. */
const PNG = (() => {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(1, 0);
  header.writeUInt32BE(1, 4);
  header[8] = 8; // bit depth
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(Buffer.from([0, 0]))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
})();

/** SOI, a JFIF APP0 segment, EOI. */
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9]);
const TEXT = Buffer.from('Catatan rapat\r\n\tBaris kedua: harga naik 5%.\n', 'utf8');
const CSV = Buffer.from('number,customer,total\nINV-1,"PT Contoh, Tbk",150000\n', 'utf8');

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

// --- Multipart bodies. -----------------------------------------------------------------------------

interface FilePart {
  name?: string;
  filename: string;
  type: string;
  content: Buffer;
}

function multipart(file: FilePart | null, fields: Record<string, string> = {}): { contentType: string; body: Buffer } {
  const boundary = `----benteng${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`, 'utf8'));
  }
  if (file) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name ?? 'file'}"; filename="${file.filename}"\r\nContent-Type: ${file.type}\r\n\r\n`, 'utf8'),
      file.content,
      Buffer.from('\r\n', 'utf8'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'utf8'));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

describe('documents', () => {
  const owner = ownerPool();
  const app = appPool(1);
  const password = testPassword();
  let api: TestApi;
  let client: PublicClient;

  beforeAll(async () => {
    api = await buildApi();
    client = new PublicClient(api);
  });
  afterAll(() => api.close());

  const tenantWithLogins = (label: string): Promise<TestTenant> => createTenantWithLogins(owner, label, password);

  const token = async (tenant: TestTenant, role: MembershipRole): Promise<string> => (await client.login(tenant.users[role].email, password)).accessToken;

  /** Sends a raw request from the client's address (multipart bodies are not JSON). */
  async function send(method: string, url: string, options: { token?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<ApiResponse> {
    const res = await api.app
      .getHttpAdapter()
      .getInstance()
      .inject({
        method: method as 'POST',
        url,
        remoteAddress: client.ip,
        headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
        ...(options.body !== undefined ? { payload: options.body } : {}),
      });
    let body: unknown;
    try {
      body = res.body.length > 0 ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, body, rawPayload: res.rawPayload } as ApiResponse & { rawPayload: Buffer };
  }

  function upload(accessToken: string, file: FilePart | null, fields: Record<string, string> = {}, headers: Record<string, string> = {}) {
    const form = multipart(file, fields);
    return send('POST', '/v1/documents', { token: accessToken, headers: { 'content-type': form.contentType, ...headers }, body: form.body });
  }

  async function uploaded(accessToken: string, file: FilePart, fields: Record<string, string> = {}): Promise<DocumentBody> {
    return arranged(await upload(accessToken, file, fields), 201, 'upload').body as DocumentBody;
  }

  /** What is stored for a tenant, read through the owner connection (which bypasses RLS). */
  async function stored(tenantId: string): Promise<{ documents: number; contents: number; events: number }> {
    const { rows } = await owner.query<{ documents: number; contents: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM documents WHERE tenant_id = $1) AS documents,
              (SELECT count(*)::int FROM document_contents WHERE tenant_id = $1) AS contents,
              (SELECT count(*)::int FROM domain_events WHERE tenant_id = $1 AND type = 'document.uploaded') AS events`,
      [tenantId],
    );
    return rows[0]!;
  }

  async function insertTicket(tenantId: string, openedById: string, assigneeId: string | null = null): Promise<string> {
    const id = randomUUID();
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      await client.query(`INSERT INTO tickets (tenant_id, id, subject, body, opened_by_id, assignee_id) VALUES ($1, $2, 'Printer', 'Macet lagi', $3, $4)`, [
        tenantId,
        id,
        openedById,
        assigneeId,
      ]);
      await client.query('COMMIT');
      return id;
    } finally {
      client.release();
    }
  }

  /** A refusal without its request id: two of them must be indistinguishable. */
  const comparable = (res: ApiResponse) => {
    const { requestId: _, ...body } = (res.body ?? {}) as Record<string, unknown>;
    return { status: res.status, contentType: res.headers['content-type'], body };
  };

  describe('uploading the allowed types', () => {
    const cases = [
      { label: 'PDF', filename: 'faktur.pdf', type: 'application/pdf', content: PDF, contentType: 'application/pdf', header: 'application/pdf' },
      { label: 'PNG', filename: 'logo.png', type: 'image/png', content: PNG, contentType: 'image/png', header: 'image/png' },
      { label: 'JPEG', filename: 'foto.JPEG', type: 'image/jpeg', content: JPEG, contentType: 'image/jpeg', header: 'image/jpeg' },
      { label: 'plain text', filename: 'catatan.txt', type: 'text/plain', content: TEXT, contentType: 'text/plain', header: 'text/plain; charset=utf-8' },
      { label: 'CSV', filename: 'laporan.csv', type: 'text/csv', content: CSV, contentType: 'text/csv', header: 'text/csv; charset=utf-8' },
    ] as const;
    const expectedName = { 'faktur.pdf': 'faktur.pdf', 'logo.png': 'logo.png', 'foto.JPEG': 'foto.jpeg', 'catatan.txt': 'catatan.txt', 'laporan.csv': 'laporan.csv' };

    it.each(cases)('$label: 201 with the allowlisted shape, and downloads byte for byte', async ({ filename, type, content, contentType, header }) => {
      const tenant = await tenantWithLogins('doc-types');
      const memberToken = await token(tenant, 'member');
      const res = await upload(memberToken, { filename, type, content });
      expect(res.status, `${res.text}`).toBe(201);
      const document = res.body as DocumentBody;
      expect(Object.keys(document).sort()).toEqual(DOCUMENT_KEYS);
      expect(document).toEqual({
        id: document.id,
        fileName: expectedName[filename],
        contentType,
        size: content.length,
        sha256: sha256(content),
        link: null,
        uploadedByMe: true,
        createdAt: document.createdAt,
      });
      expect(res.headers.location).toBe(`/v1/documents/${document.id}`);
      expect(res.text).not.toContain(tenant.id);
      expect(res.text).not.toContain(tenant.users.member.id);

      const download = (await send('GET', `/v1/documents/${document.id}/content`, { token: memberToken })) as ApiResponse & { rawPayload: Buffer };
      expect(download.status).toBe(200);
      expect(download.rawPayload.equals(content)).toBe(true);
      expect(download.headers['content-type']).toBe(header);
    });

    it('download headers are exact: detected type, attachment with an RFC 8187 name, nosniff, no caching', async () => {
      const tenant = await tenantWithLogins('doc-headers');
      const adminToken = await token(tenant, 'admin');
      const document = await uploaded(adminToken, { filename: "Résumé (final)'s.txt", type: 'application/octet-stream', content: TEXT });
      expect(document.fileName).toBe("Résumé (final)'s.txt");
      const res = await send('GET', `/v1/documents/${document.id}/content`, { token: await token(tenant, 'viewer') });
      expect(res.status).toBe(200);
      expect({
        'content-type': res.headers['content-type'],
        'content-length': res.headers['content-length'],
        'content-disposition': res.headers['content-disposition'],
        'x-content-type-options': res.headers['x-content-type-options'],
        'cache-control': res.headers['cache-control'],
      }).toEqual({
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(TEXT.length),
        'content-disposition': `attachment; filename="R_sum_ (final)'s.txt"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%28final%29%27s.txt`,
        'x-content-type-options': 'nosniff',
        'cache-control': 'private, no-store',
      });
    });

    it('records document.uploaded in the outbox, in the same tenant, without name or storage key', async () => {
      const tenant = await tenantWithLogins('doc-event');
      const document = await uploaded(await token(tenant, 'member'), { filename: 'rahasia-nama.pdf', type: 'application/pdf', content: PDF });
      const { rows } = await owner.query('SELECT tenant_id, subject_type, subject_id, payload FROM domain_events WHERE type = $1 AND subject_id = $2', ['document.uploaded', document.id]);
      expect(rows).toEqual([
        {
          tenant_id: tenant.id,
          subject_type: 'document',
          subject_id: document.id,
          payload: { id: document.id, contentType: 'application/pdf', size: PDF.length, sha256: sha256(PDF), invoiceId: null, ticketId: null, createdAt: document.createdAt },
        },
      ]);
      expect(JSON.stringify(rows[0])).not.toContain('rahasia');
    });
  });

  describe(tag('UPLOAD-CONTENT', 'the bytes decide the type'), () => {
    it('a PDF named .png and declared image/png is stored as application/pdf, renamed .pdf', async () => {
      const tenant = await tenantWithLogins('doc-renamed');
      const document = await uploaded(await token(tenant, 'member'), { filename: 'scan.png', type: 'image/png', content: PDF });
      expect(document).toMatchObject({ fileName: 'scan.pdf', contentType: 'application/pdf' });
    });

    it('text named .pdf is plain text, renamed .txt; text named .csv is CSV', async () => {
      const tenant = await tenantWithLogins('doc-text-names');
      const memberToken = await token(tenant, 'member');
      expect(await uploaded(memberToken, { filename: 'notes.pdf', type: 'application/pdf', content: TEXT })).toMatchObject({ fileName: 'notes.txt', contentType: 'text/plain' });
      expect(await uploaded(memberToken, { filename: 'data.CSV', type: 'text/plain', content: CSV })).toMatchObject({ fileName: 'data.csv', contentType: 'text/csv' });
      expect(await uploaded(memberToken, { filename: 'README', type: 'text/plain', content: TEXT })).toMatchObject({ fileName: 'README.txt', contentType: 'text/plain' });
    });

    const refused = [
      { label: 'HTML declared text/plain', filename: 'page.txt', type: 'text/plain', content: Buffer.from('<!DOCTYPE html>\n<html><body>Hi</body></html>\n') },
      { label: 'a <script> inside a CSV', filename: 'data.csv', type: 'text/csv', content: Buffer.from('a,b\n1,"<script>alert(1)</script>"\n') },
      { label: 'an SVG declared image/png', filename: 'logo.png', type: 'image/png', content: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>') },
      { label: 'XML', filename: 'data.txt', type: 'text/plain', content: Buffer.from('<?xml version="1.0"?><a/>') },
      { label: 'text with a NUL byte', filename: 'notes.txt', type: 'text/plain', content: Buffer.from('abc\u0000def') },
      { label: 'text with an escape sequence', filename: 'notes.txt', type: 'text/plain', content: Buffer.from('abc\u001b[31mred') },
      { label: 'invalid UTF-8', filename: 'notes.txt', type: 'text/plain', content: Buffer.from([0x61, 0xc3, 0x28, 0x62]) },
      { label: 'a GIF (binary, not allowlisted)', filename: 'anim.gif', type: 'image/png', content: Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1') },
      { label: 'a ZIP declared application/pdf', filename: 'x.pdf', type: 'application/pdf', content: Buffer.from('PK\x03\x04\x14\x00\x00\x00\x08\x00', 'latin1') },
      { label: 'random bytes', filename: 'blob.jpg', type: 'image/jpeg', content: Buffer.from([0x00, 0x01, 0x02, 0xfe, 0xff, 0x10, 0x80, 0x90]) },
    ];

    it.each(refused)('$label: 415 document.type_not_allowed, nothing stored', async ({ filename, type, content }) => {
      const tenant = await tenantWithLogins('doc-refused');
      const res = await upload(await token(tenant, 'member'), { filename, type, content });
      expect(problemOf(res), `${res.text}`).toEqual({ status: 415, problemJson: true, code: 'document.type_not_allowed' });
      expect(await stored(tenant.id)).toEqual({ documents: 0, contents: 0, events: 0 });
    });

    it('an empty file: 400 document.empty', async () => {
      const tenant = await tenantWithLogins('doc-empty');
      const res = await upload(await token(tenant, 'member'), { filename: 'empty.txt', type: 'text/plain', content: Buffer.alloc(0) });
      expect(problemOf(res)).toEqual({ status: 400, problemJson: true, code: 'document.empty' });
    });
  });

  describe('names', () => {
    it.each([
      ['../../etc/passwd.txt', 'passwd.txt'],
      ['..', 'document.txt'],
      ['.bashrc', 'bashrc.txt'],
      ['laporan\u202Efdp.txt', 'laporanfdp.txt'],
      ['a\u0007b\u200Bc.txt', 'abc.txt'],
      ['con.txt', '_con.txt'],
      ['what?<is>this:|*.txt', 'what__is_this___.txt'],
      ['notes.txt.   ', 'notes.txt'],
      [`${'x'.repeat(300)}.txt`, `${'x'.repeat(100)}.txt`],
    ])('%j is stored as %j', async (declared, expected) => {
      const tenant = await tenantWithLogins('doc-names');
      const document = await uploaded(await token(tenant, 'member'), { filename: declared, type: 'text/plain', content: TEXT });
      expect(document.fileName).toBe(expected);
    });
  });

  describe('size and form', () => {
    it('an 11 MB file: 413 problem before the body is read, nothing stored', async () => {
      const tenant = await tenantWithLogins('doc-large');
      const res = await upload(await token(tenant, 'member'), { filename: 'big.txt', type: 'text/plain', content: Buffer.alloc(11 * 1024 * 1024, 0x61) });
      expect(problemOf(res)).toEqual({ status: 413, problemJson: true, code: 'upload.too_large' });
      expect(await stored(tenant.id)).toEqual({ documents: 0, contents: 0, events: 0 });
    });

    it('one byte over the cap, caught while streaming: 413, nothing stored; exactly the cap is accepted', async () => {
      const tenant = await tenantWithLogins('doc-cap');
      const memberToken = await token(tenant, 'member');
      const over = await upload(memberToken, { filename: 'big.txt', type: 'text/plain', content: Buffer.alloc(MAX_BYTES + 1, 0x61) });
      expect(problemOf(over)).toEqual({ status: 413, problemJson: true, code: 'upload.too_large' });
      expect(await stored(tenant.id)).toEqual({ documents: 0, contents: 0, events: 0 });

      const exact = await upload(memberToken, { filename: 'big.txt', type: 'text/plain', content: Buffer.alloc(MAX_BYTES, 0x61) });
      expect(exact.status, `${exact.text}`).toBe(201);
      expect((exact.body as DocumentBody).size).toBe(MAX_BYTES);
    });

    it('a JSON body: 415 problem', async () => {
      const tenant = await tenantWithLogins('doc-json');
      const res = await client.call('POST', '/v1/documents', { token: await token(tenant, 'member'), body: { file: 'aGVsbG8=' } });
      // Refused by the listener's media type check (apps/api/src/http/media-types.ts) before the body is read.
      expect(problemOf(res)).toEqual({ status: 415, problemJson: true, code: 'request.unsupported_media_type' });
    });

    it('a form without a file, with two files, with an unknown field, or cut short: 400', async () => {
      const tenant = await tenantWithLogins('doc-forms');
      const memberToken = await token(tenant, 'member');
      expect(problemOf(await upload(memberToken, null, { invoiceId: randomUUID() }))).toEqual({ status: 400, problemJson: true, code: 'upload.file_required' });
      expect(problemOf(await upload(memberToken, { name: 'attachment', filename: 'a.txt', type: 'text/plain', content: TEXT }))).toEqual({
        status: 400,
        problemJson: true,
        code: 'upload.file_field',
      });
      expect(problemOf(await upload(memberToken, { filename: 'a.txt', type: 'text/plain', content: TEXT }, { tenantId: randomUUID() }))).toMatchObject({ status: 400, problemJson: true });

      const boundary = 'twofiles';
      const part = (name: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nabc\r\n`;
      const two = await send('POST', '/v1/documents', {
        token: memberToken,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: `${part('file')}${part('file')}--${boundary}--\r\n`,
      });
      expect(problemOf(two)).toEqual({ status: 400, problemJson: true, code: 'upload.one_file' });

      const truncated = await send('POST', '/v1/documents', {
        token: memberToken,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nabc`,
      });
      expect(problemOf(truncated)).toMatchObject({ status: 400, problemJson: true });
      expect(await stored(tenant.id)).toEqual({ documents: 0, contents: 0, events: 0 });
    });

    it('a malformed link field is a validation problem with a pointer, not echoed', async () => {
      const tenant = await tenantWithLogins('doc-bad-link');
      const res = await upload(await token(tenant, 'member'), { filename: 'a.txt', type: 'text/plain', content: TEXT }, { invoiceId: 'not-a-uuid<script>' });
      expect(problemOf(res)).toEqual({ status: 400, problemJson: true, code: 'validation' });
      expect((res.body as { errors: unknown }).errors).toEqual([{ pointer: '/invoiceId', rules: ['isUuid'] }]);
      expect(res.text).not.toContain('<script>');
    });
  });

  describe('idempotent uploads', () => {
    it('the same key and file replays the first answer; the same key with other bytes is 422', async () => {
      const tenant = await tenantWithLogins('doc-idem');
      const memberToken = await token(tenant, 'member');
      const key = `upload-${randomUUID()}`;
      const file = { filename: 'a.pdf', type: 'application/pdf', content: PDF };
      const first = await upload(memberToken, file, {}, { 'idempotency-key': key });
      expect(first.status, `${first.text}`).toBe(201);
      const again = await upload(memberToken, file, {}, { 'idempotency-key': key });
      expect(again.status).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);

      const other = await upload(memberToken, { ...file, content: Buffer.concat([PDF, Buffer.from('% other\n')]) }, {}, { 'idempotency-key': key });
      expect(problemOf(other)).toEqual({ status: 422, problemJson: true, code: 'idempotency.key_reused' });
      expect((await stored(tenant.id)).documents).toBe(1);
    });
  });

  describe('links', () => {
    it('attaches to an invoice of the tenant; deleting that invoice keeps the document and clears the link', async () => {
      const tenant = await tenantWithLogins('doc-link-invoice');
      const invoiceId = await insertInvoice(owner, tenant.id, { createdById: tenant.users.member.id });
      const memberToken = await token(tenant, 'member');
      const document = await uploaded(memberToken, { filename: 'bukti.jpg', type: 'image/jpeg', content: JPEG }, { invoiceId });
      expect(document.link).toEqual({ invoiceId });

      const listed = await client.call('GET', `/v1/documents?invoiceId=${invoiceId}`, { token: memberToken });
      expect((listed.body as { items: DocumentBody[] }).items.map((d) => d.id)).toEqual([document.id]);

      arranged(await client.call('DELETE', `/v1/invoices/${invoiceId}`, { token: memberToken }), 204, 'delete the draft invoice');
      const after = await client.call('GET', `/v1/documents/${document.id}`, { token: memberToken });
      expect(after.status).toBe(200);
      expect((after.body as DocumentBody).link).toBeNull();
    });

    it("another tenant's invoice or ticket, or a random id: the same 404, nothing stored", async () => {
      const tenant = await tenantWithLogins('doc-link-cross');
      const other = await tenantWithLogins('doc-link-cross-other');
      const foreignInvoice = await insertInvoice(owner, other.id, { createdById: other.users.owner.id });
      const foreignTicket = await insertTicket(other.id, other.users.owner.id);
      const memberToken = await token(tenant, 'member');
      const file = { filename: 'a.pdf', type: 'application/pdf', content: PDF };

      const answers = [];
      const links: Record<string, string>[] = [{ invoiceId: foreignInvoice }, { invoiceId: randomUUID() }, { ticketId: foreignTicket }, { ticketId: randomUUID() }];
      for (const fields of links) {
        const res = await upload(memberToken, file, fields);
        expect(problemOf(res)).toEqual({ status: 404, problemJson: true, code: 'document.link_not_found' });
        answers.push(comparable(res));
      }
      expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
      expect(await stored(tenant.id)).toEqual({ documents: 0, contents: 0, events: 0 });
      expect(await stored(other.id)).toEqual({ documents: 0, contents: 0, events: 0 });
    });

    it('both an invoice and a ticket: 400 document.one_link', async () => {
      const tenant = await tenantWithLogins('doc-link-both');
      const invoiceId = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
      const ticketId = await insertTicket(tenant.id, tenant.users.member.id);
      const res = await upload(await token(tenant, 'member'), { filename: 'a.pdf', type: 'application/pdf', content: PDF }, { invoiceId, ticketId });
      expect(problemOf(res)).toEqual({ status: 400, problemJson: true, code: 'document.one_link' });
    });

    it("a document on a ticket is as visible as the ticket: a member who cannot see the ticket cannot see, or attach to, it", async () => {
      const tenant = await tenantWithLogins('doc-link-ticket');
      const adminsTicket = await insertTicket(tenant.id, tenant.users.admin.id);
      const membersTicket = await insertTicket(tenant.id, tenant.users.admin.id, tenant.users.member.id);
      const adminToken = await token(tenant, 'admin');
      const memberToken = await token(tenant, 'member');
      const viewerToken = await token(tenant, 'viewer');

      const hidden = await uploaded(adminToken, { filename: 'internal.txt', type: 'text/plain', content: TEXT }, { ticketId: adminsTicket });
      const shared = await uploaded(adminToken, { filename: 'shared.txt', type: 'text/plain', content: TEXT }, { ticketId: membersTicket });
      const loose = await uploaded(adminToken, { filename: 'loose.txt', type: 'text/plain', content: TEXT });
      expect(hidden.link).toEqual({ ticketId: adminsTicket });

      const ids = async (accessToken: string) => ((await client.call('GET', '/v1/documents', { token: accessToken })).body as { items: DocumentBody[] }).items.map((d) => d.id).sort();
      expect(await ids(adminToken)).toEqual([hidden.id, shared.id, loose.id].sort());
      expect(await ids(memberToken)).toEqual([shared.id, loose.id].sort());
      expect(await ids(viewerToken)).toEqual([loose.id]);

      const random = await client.call('GET', `/v1/documents/${randomUUID()}`, { token: memberToken });
      for (const path of [`/v1/documents/${hidden.id}`, `/v1/documents/${hidden.id}/content`]) {
        expect(comparable(await client.call('GET', path, { token: memberToken }))).toEqual(comparable(random));
      }

      // Attaching to the ticket they cannot see is the same 404 as a ticket that does not exist.
      const attach = await upload(memberToken, { filename: 'a.txt', type: 'text/plain', content: TEXT }, { ticketId: adminsTicket });
      expect(problemOf(attach)).toEqual({ status: 404, problemJson: true, code: 'document.link_not_found' });
      expect((await uploaded(memberToken, { filename: 'b.txt', type: 'text/plain', content: TEXT }, { ticketId: membersTicket })).link).toEqual({ ticketId: membersTicket });
    });
  });

  describe('roles', () => {
    it('every role reads; a viewer uploads nothing (403 before the body is read)', async () => {
      const tenant = await tenantWithLogins('doc-roles-read');
      const document = await uploaded(await token(tenant, 'owner'), { filename: 'a.png', type: 'image/png', content: PNG });
      for (const role of ROLES) {
        const roleToken = await token(tenant, role);
        expect((await client.call('GET', `/v1/documents/${document.id}`, { token: roleToken })).status).toBe(200);
        expect((await send('GET', `/v1/documents/${document.id}/content`, { token: roleToken })).status).toBe(200);
        expect((await client.call('GET', '/v1/documents', { token: roleToken })).status).toBe(200);
      }
      const viewer = await upload(await token(tenant, 'viewer'), { filename: 'a.png', type: 'image/png', content: PNG });
      expect(problemOf(viewer)).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect((await stored(tenant.id)).documents).toBe(1);
    });

    it("members delete their own uploads but not others'; admins and owners delete any; viewers none", async () => {
      const tenant = await tenantWithLogins('doc-roles-delete');
      const memberToken = await token(tenant, 'member');
      const adminToken = await token(tenant, 'admin');
      const file = { filename: 'a.csv', type: 'text/csv', content: CSV };
      const mine = await uploaded(memberToken, file);
      const admins = await uploaded(adminToken, file);
      const another = await uploaded(memberToken, file);

      expect(problemOf(await client.call('DELETE', `/v1/documents/${admins.id}`, { token: memberToken }))).toEqual({ status: 403, problemJson: true, code: 'document.forbidden' });
      expect(problemOf(await client.call('DELETE', `/v1/documents/${mine.id}`, { token: await token(tenant, 'viewer') }))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect((await client.call('DELETE', `/v1/documents/${mine.id}`, { token: memberToken })).status).toBe(204);
      expect((await client.call('DELETE', `/v1/documents/${another.id}`, { token: adminToken })).status).toBe(204);
      expect((await client.call('DELETE', `/v1/documents/${admins.id}`, { token: await token(tenant, 'owner') })).status).toBe(204);

      // The bytes went with the metadata.
      expect(await stored(tenant.id)).toEqual({ documents: 0, contents: 0, events: 3 });
      expect((await client.call('GET', `/v1/documents/${mine.id}`, { token: memberToken })).status).toBe(404);
      expect((await client.call('DELETE', `/v1/documents/${mine.id}`, { token: memberToken })).status).toBe(404);
    });

    it("uploadedByMe is true only for the uploader", async () => {
      const tenant = await tenantWithLogins('doc-roles-mine');
      const document = await uploaded(await token(tenant, 'member'), { filename: 'a.pdf', type: 'application/pdf', content: PDF });
      const seen = await client.call('GET', `/v1/documents/${document.id}`, { token: await token(tenant, 'admin') });
      expect((seen.body as DocumentBody).uploadedByMe).toBe(false);
    });
  });

  describe('tenant isolation', () => {
    it("another tenant's document is 404, identical to a random id, for metadata, content and delete", async () => {
      const tenant = await tenantWithLogins('doc-cross');
      const other = await tenantWithLogins('doc-cross-other');
      const foreign = await uploaded(await token(other, 'owner'), { filename: 'secret.pdf', type: 'application/pdf', content: PDF });
      const ownerToken = await token(tenant, 'owner');
      const random = randomUUID();
      for (const [method, suffix] of [
        ['GET', ''],
        ['GET', '/content'],
        ['DELETE', ''],
      ] as const) {
        const theirs = await client.call(method, `/v1/documents/${foreign.id}${suffix}`, { token: ownerToken });
        const none = await client.call(method, `/v1/documents/${random}${suffix}`, { token: ownerToken });
        expect(problemOf(theirs)).toEqual({ status: 404, problemJson: true, code: 'document.not_found' });
        expect(comparable(theirs)).toEqual(comparable(none));
        expect(theirs.text).not.toContain('secret');
      }
      const list = await client.call('GET', '/v1/documents', { token: ownerToken });
      expect((list.body as { items: unknown[] }).items).toEqual([]);
      expect((await stored(other.id)).documents).toBe(1);
    });

    it("RLS hides one tenant's bytes from another even without the application's filters", async () => {
      const tenant = await tenantWithLogins('doc-rls');
      const other = await tenantWithLogins('doc-rls-other');
      await uploaded(await token(tenant, 'member'), { filename: 'a.pdf', type: 'application/pdf', content: PDF });
      const connection = await app.connect();
      try {
        await connection.query('BEGIN');
        await connection.query("SELECT set_config('app.tenant_id', $1, true)", [other.id]);
        const { rows } = await connection.query('SELECT (SELECT count(*)::int FROM documents) AS documents, (SELECT count(*)::int FROM document_contents) AS contents');
        expect(rows).toEqual([{ documents: 0, contents: 0 }]);
        await connection.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id]);
        const mine = await connection.query('SELECT (SELECT count(*)::int FROM documents) AS documents, (SELECT count(*)::int FROM document_contents) AS contents');
        expect(mine.rows).toEqual([{ documents: 1, contents: 1 }]);
        // Documents are immutable for the runtime role.
        await expect(connection.query("UPDATE documents SET file_name = 'x.pdf'")).rejects.toMatchObject({ code: '42501' });
      } finally {
        await connection.query('ROLLBACK');
        connection.release();
      }
    });
  });

  describe('listing', () => {
    it('pages newest first with an opaque cursor, without overlap', async () => {
      const tenant = await tenantWithLogins('doc-pages');
      const memberToken = await token(tenant, 'member');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await uploaded(memberToken, { filename: `n${i}.txt`, type: 'text/plain', content: TEXT })).id);
      const first = await client.call('GET', '/v1/documents?limit=2', { token: memberToken });
      const page1 = first.body as { items: DocumentBody[]; nextCursor: string | null };
      expect(page1.items.map((d) => d.id)).toEqual([ids[2], ids[1]]);
      expect(page1.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
      // The row the cursor points at is deleted: the walk goes on after it all the same.
      expect((await client.call('DELETE', `/v1/documents/${ids[1]}`, { token: memberToken })).status).toBe(204);
      const second = await client.call('GET', `/v1/documents?limit=2&cursor=${page1.nextCursor}`, { token: memberToken });
      expect(second.status, `${second.text}`).toBe(200);
      const page2 = second.body as { items: DocumentBody[]; nextCursor: string | null };
      expect(page2.items.map((d) => d.id)).toEqual([ids[0]]);
      expect(page2.nextCursor).toBeNull();
    });

    it('a cursor this API did not make is a validation problem', async () => {
      const tenant = await tenantWithLogins('doc-bad-cursor');
      const memberToken = await token(tenant, 'member');
      for (const cursor of ['abc', '_'.repeat(32), 'A'.repeat(21)]) {
        const res = await client.call('GET', `/v1/documents?cursor=${cursor}`, { token: memberToken });
        expect(problemOf(res), `${cursor}: ${res.text}`).toEqual({ status: 400, problemJson: true, code: 'pagination.invalid_cursor' });
      }
    });
  });
});
