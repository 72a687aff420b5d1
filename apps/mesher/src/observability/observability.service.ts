import { Injectable } from '@nestjs/common';
import type { CompletedExchange, RequestObserver } from '@mesher/proxy-core';

/** Fans each finished request out to the observers (metrics, traffic statistics, access log). */
@Injectable()
export class ObservabilityService {
  private readonly sinks: RequestObserver[] = [];
  readonly observer: RequestObserver;

  constructor() {
    const sinks = this.sinks;
    this.observer = {
      onComplete(e: CompletedExchange) {
        for (const s of sinks) s.onComplete(e);
      },
      onRetry(d) {
        for (const s of sinks) s.onRetry?.(d);
      },
      onRateLimited(d, scope) {
        for (const s of sinks) s.onRateLimited?.(d, scope);
      },
      onFault(d, kind) {
        for (const s of sinks) s.onFault?.(d, kind);
      },
    };
  }

  add(sink: RequestObserver): void {
    this.sinks.push(sink);
  }
}
