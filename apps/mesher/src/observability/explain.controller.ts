import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AdminError } from '@mesher/contracts';
import { ProxyService } from '../proxy/proxy.service';

/** Decision explanations of recent requests that carried `x-mesher-explain: 1`. */
@ApiTags('observability')
@Controller('v1/explain')
export class ExplainController {
  constructor(private readonly proxy: ProxyService) {}

  @Get()
  recent() {
    return this.proxy.explanations.recent();
  }

  @Get(':requestId')
  one(@Param('requestId') requestId: string) {
    const e = this.proxy.explanations.get(requestId);
    if (!e) throw new AdminError('NOT_FOUND', `no explanation for request '${requestId}' (send x-mesher-explain: 1; the last 200 are kept)`);
    return e;
  }
}
