/**
 * What a file sent through WhatsApp may be: Meta's supported types for each message kind, and
 * their sizes. Uploads through Parley are held in memory on their way to Meta, so a file is also
 * capped at MAX_UPLOAD_BYTES; larger documents (Meta takes up to 100 MB) go by link.
 */
import type { MediaKind } from './sending';

/** The message kinds Parley sends media as (stickers are not among them, so WebP is not taken). */
export type UploadKind = MediaKind;

const MB = 1024 * 1024;

export const MAX_UPLOAD_BYTES = 16 * MB;

export const UPLOAD_TYPES: Record<string, { kind: UploadKind; maxBytes: number }> = {
  'image/jpeg': { kind: 'image', maxBytes: 5 * MB },
  'image/png': { kind: 'image', maxBytes: 5 * MB },
  'audio/aac': { kind: 'audio', maxBytes: 16 * MB },
  'audio/amr': { kind: 'audio', maxBytes: 16 * MB },
  'audio/mpeg': { kind: 'audio', maxBytes: 16 * MB },
  'audio/mp4': { kind: 'audio', maxBytes: 16 * MB },
  'audio/ogg': { kind: 'audio', maxBytes: 16 * MB },
  'video/mp4': { kind: 'video', maxBytes: 16 * MB },
  'video/3gpp': { kind: 'video', maxBytes: 16 * MB },
  'text/plain': { kind: 'document', maxBytes: MAX_UPLOAD_BYTES },
  'application/pdf': { kind: 'document', maxBytes: MAX_UPLOAD_BYTES },
  'application/msword': { kind: 'document', maxBytes: MAX_UPLOAD_BYTES },
  'application/vnd.ms-excel': { kind: 'document', maxBytes: MAX_UPLOAD_BYTES },
  'application/vnd.ms-powerpoint': { kind: 'document', maxBytes: MAX_UPLOAD_BYTES },
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': { kind: 'document', maxBytes: MAX_UPLOAD_BYTES },
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': { kind: 'document', maxBytes: MAX_UPLOAD_BYTES },
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': { kind: 'document', maxBytes: MAX_UPLOAD_BYTES },
};

/** The type a Content-Type header names, without its parameters (`audio/ogg; codecs=opus`). */
export function uploadTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}
