import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { SERVICE_NAME_RE } from './validators';

export class CreateServiceDto {
  @ApiProperty({ example: 'cart' })
  @IsString()
  @Matches(SERVICE_NAME_RE, { message: "name must be lower-case letters, digits, '-', '_' or '.' (1-63 characters)" })
  name: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  app?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;
}
