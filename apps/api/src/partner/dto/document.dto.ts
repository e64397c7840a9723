import { IsOptional, IsUUID } from 'class-validator';
import { PageQuery } from '../../public/dto/page.dto.js';

export class PartnerListDocumentsQuery extends PageQuery {
  @IsOptional()
  @IsUUID('all')
  invoiceId?: string;

  @IsOptional()
  @IsUUID('all')
  ticketId?: string;
}
