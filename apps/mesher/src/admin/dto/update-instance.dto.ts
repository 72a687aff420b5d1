import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { INSTANCE_STATUSES, type InstanceStatus } from '@mesher/contracts';
import { IsEndpointUrl, IsOptionalNotNull, IsStringMap } from './validators';

/** Fields present are changed; absent ones keep their value; null is refused (nothing here may be empty). */
export class UpdateInstanceDto {
  @ApiPropertyOptional()
  @IsOptionalNotNull()
  @IsEndpointUrl()
  endpoint?: string;

  @ApiPropertyOptional()
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(100)
  version?: string;

  @ApiPropertyOptional()
  @IsOptionalNotNull()
  @IsStringMap()
  labels?: Record<string, string>;

  @ApiPropertyOptional()
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(10000)
  weight?: number;

  @ApiPropertyOptional({ enum: INSTANCE_STATUSES })
  @IsOptionalNotNull()
  @IsIn(INSTANCE_STATUSES as InstanceStatus[], { message: `status must be one of ${INSTANCE_STATUSES.join(', ')}` })
  status?: InstanceStatus;

  @ApiPropertyOptional()
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(86400)
  ttl?: number;
}
