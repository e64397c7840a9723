import { IsIn, IsOptional, IsUUID, Matches } from 'class-validator';
import { EXPORT_FORMATS, EXPORT_STATUS_FILTERS, EXPORT_TYPES, type ExportFormat, type ExportType } from '@benteng/exports';
import { NestedObject } from '../../http/nested.decorator.js';
import { PageQuery } from '../../http/dto/page.dto.js';

/** Every status either type knows; the service checks that it fits the export's type. */
const STATUSES = [...new Set(Object.values(EXPORT_STATUS_FILTERS).flat())];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Which rows, beyond what the requester may read: a status, and creation days (UTC, both inclusive). */
export class ExportFiltersDto {
  @IsOptional()
  @IsIn(STATUSES)
  status?: string | null;

  @IsOptional()
  @Matches(DAY, { message: 'must be a date, YYYY-MM-DD' })
  createdFrom?: string | null;

  @IsOptional()
  @Matches(DAY, { message: 'must be a date, YYYY-MM-DD' })
  createdTo?: string | null;
}

export class CreateExportDto {
  @IsIn(EXPORT_TYPES)
  type!: ExportType;

  @IsIn(EXPORT_FORMATS)
  format!: ExportFormat;

  @NestedObject(() => ExportFiltersDto, { optional: true })
  filters?: ExportFiltersDto;
}

export class ListExportsQuery extends PageQuery {}

/**
 * The query of a signed download link, exactly as POST /v1/exports/:id/download-url made it: the
 * tenant, the user, the minting session, the expiry (Unix seconds) and the signature over them and
 * the export id.
 */
export class DownloadLinkQuery {
  @IsUUID('all')
  tenant!: string;

  @IsUUID('all')
  user!: string;

  @IsUUID('all')
  session!: string;

  @Matches(/^[1-9]\d{0,11}$/, { message: 'must be Unix seconds' })
  expires!: string;

  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'must be a base64url HMAC-SHA256' })
  sig!: string;
}
