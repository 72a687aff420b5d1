import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { INSTANCE_STATUSES, type InstanceStatus } from '@mesher/contracts';
import { IsEndpointUrl, IsStringMap } from './validators';

export class RegisterInstanceDto {
  @ApiPropertyOptional({ description: 'stable id (default: generated)' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._:-]{1,100}$/, { message: 'id must be 1-100 characters of letters, digits, . _ : -' })
  id?: string;

  @ApiProperty({ example: 'http://127.0.0.1:8081' })
  @IsEndpointUrl()
  endpoint: string;

  @ApiPropertyOptional({ example: '1.0.0' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  version?: string;

  @ApiPropertyOptional({ example: { zone: 'a' } })
  @IsOptional()
  @IsStringMap()
  labels?: Record<string, string>;

  @ApiPropertyOptional({ example: 100 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10000)
  weight?: number;

  @ApiPropertyOptional({ enum: INSTANCE_STATUSES })
  @IsOptional()
  @IsIn(INSTANCE_STATUSES as InstanceStatus[], { message: `status must be one of ${INSTANCE_STATUSES.join(', ')}` })
  status?: InstanceStatus;

  @ApiPropertyOptional({ description: 'seconds without heartbeat before the instance leaves routing; 0 = never' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86400)
  ttl?: number;
}
