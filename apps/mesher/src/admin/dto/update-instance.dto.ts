import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { INSTANCE_STATUSES, type InstanceStatus } from '@mesher/contracts';
import { IsEndpointUrl, IsStringMap } from './validators';

/** Fields present are changed; absent ones keep their value. */
export class UpdateInstanceDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsEndpointUrl()
  endpoint?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(100)
  version?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsStringMap()
  labels?: Record<string, string>;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10000)
  weight?: number;

  @ApiPropertyOptional({ enum: INSTANCE_STATUSES })
  @IsOptional()
  @IsIn(INSTANCE_STATUSES as InstanceStatus[], { message: `status must be one of ${INSTANCE_STATUSES.join(', ')}` })
  status?: InstanceStatus;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86400)
  ttl?: number;
}
