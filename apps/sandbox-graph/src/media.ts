import { createHash } from 'node:crypto';

export interface StoredMedia {
  id: string;
  bytes: Buffer;
  mimeType: string;
  /** Hex, as `GET /{media-id}` reports it. */
  sha256: string;
  /** Base64, as inbound message webhooks report it. */
  sha256Base64: string;
  fileSize: number;
  filename?: string;
}

export function storedMedia(id: string, bytes: Buffer, mimeType: string, filename?: string): StoredMedia {
  const digest = createHash('sha256').update(bytes).digest();
  return { id, bytes, mimeType, sha256: digest.toString('hex'), sha256Base64: digest.toString('base64'), fileSize: bytes.length, filename };
}

// Tiny but well-formed files, so a client that sniffs or thumbnails what it downloads still works.
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
const PDF =
  '%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n';

export function placeholderBytes(mimeType: string): Buffer {
  if (mimeType.startsWith('image/')) return Buffer.from(PNG_1X1, 'base64');
  if (mimeType === 'application/pdf') return Buffer.from(PDF, 'latin1');
  return Buffer.from(`sandbox ${mimeType} placeholder\n`);
}

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** Enough multipart/form-data to take `POST /{phone-number-id}/media` uploads; no streaming needed. */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let index = body.indexOf(delimiter);
  if (index < 0) return undefined;
  for (;;) {
    const start = index + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing `--boundary--`
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2); // CRLF after the delimiter and before the next
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
      const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
      if (name !== undefined) {
        parts.push({
          name,
          filename: /\bfilename="([^"]*)"/i.exec(disposition)?.[1],
          contentType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim(),
          data: part.subarray(headerEnd + 4),
        });
      }
    }
    index = next;
  }
  return parts;
}
