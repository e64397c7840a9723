import { Injectable } from '@nestjs/common';
import { fileTypeFromBuffer } from 'file-type';
import type { DocumentType } from './document.types.js';

/** Binary formats are recognised by their magic numbers (the `file-type` package). */
const BINARY_TYPES: ReadonlySet<string> = new Set<DocumentType>(['application/pdf', 'image/png', 'image/jpeg']);

/**
 * Control characters (C0 including NUL, DEL, C1) other than tab, line feed and carriage return. A
 * text file with these is binary in disguise, or crafted to confuse whatever displays it.
 */
const CONTROL_CHARACTERS = /[^\P{Cc}\t\n\r]/u;

/**
 * Markup that would make a browser, a mail client or a previewer render a page or run code if the
 * file were ever opened as HTML, SVG or XML: refused anywhere in a "text" upload. Documents are
 * served as attachments with nosniff, so this is the second line, not the only one. The cost is
 * that a plain-text file quoting such markup is refused too.
 */
const ACTIVE_MARKUP = /<(?:!doctype|html|head|body|script|iframe|frame|frameset|svg|object|embed|applet|meta|base|form|link|style|\?xml)(?=[\s/>]|$)/i;

/**
 * What the WHATWG MIME sniffing algorithm takes for HTML (and XML or PDF) when a text starts with
 * it: refused at the start of a "text" upload even when the tag is harmless.
 */
const SNIFFED_AS_MARKUP_AT_START = /^[\t\n\f\r ]*(?:<(?:!--|!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)(?=[ >])|<\?xml|%PDF-)/i;

/** Strict UTF-8 without a byte-order mark of another encoding: TextDecoder refuses invalid bytes. */
function decodeUtf8(content: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    return null;
  }
}

/** Plain text: valid UTF-8, no NUL or other control characters but \t \r \n, and no markup. */
export function isPlainText(content: Uint8Array): boolean {
  const text = decodeUtf8(content);
  if (text === null || text.length === 0) return false;
  return !CONTROL_CHARACTERS.test(text) && !ACTIVE_MARKUP.test(text) && !SNIFFED_AS_MARKUP_AT_START.test(text);
}

/**
 * The type of an upload, decided by its bytes; null when it is not on the allowlist. The declared
 * name matters only to choose between text/csv and text/plain, which no bytes can tell apart:
 * `.csv` is CSV, any other text is plain text. The client's Content-Type is never consulted.
 */
export async function detectDocumentType(content: Uint8Array, declaredName: string): Promise<DocumentType | null> {
  if (content.length === 0) return null;
  const detected = await fileTypeFromBuffer(content);
  if (detected) return BINARY_TYPES.has(detected.mime) ? (detected.mime as DocumentType) : null;
  if (!isPlainText(content)) return null;
  return /\.csv$/i.test(declaredName.trim()) ? 'text/csv' : 'text/plain';
}

/**
 * The content check as an injectable unit: DocumentsService asks it for the type of every upload.
 * Production binds exactly this class (DocumentsModule); it exists as a provider so the security
 * suite's kill switch (test/security/kill-switches/limits.ts) can show what a missing check lets in.
 */
@Injectable()
export class DocumentTypeDetector {
  detect(content: Uint8Array, declaredName: string): Promise<DocumentType | null> {
    return detectDocumentType(content, declaredName);
  }
}
