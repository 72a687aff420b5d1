import { Inject, Injectable, Logger } from '@nestjs/common';
import * as http from 'node:http';
import * as net from 'node:net';
import { HealthState } from '@mesher/policies';
import type { MesherConfig } from '../config/config.schema';
import { MESHER_CONFIG } from '../tokens';
import { RegistrationService } from './registration.service';

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/** One probe of the local app: an HTTP GET that must answer 2xx/3xx, or a TCP connect. */
export function probeApp(host: string, port: number, check: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const done = (r: ProbeResult) => resolve(r);
    if (check === 'tcp') {
      const sock = net.connect({ host, port });
      sock.setTimeout(timeoutMs, () => {
        sock.destroy();
        done({ ok: false, reason: `tcp connect timed out after ${timeoutMs} ms` });
      });
      sock.once('connect', () => {
        sock.destroy();
        done({ ok: true });
      });
      sock.once('error', (e) => done({ ok: false, reason: e.message }));
      return;
    }
    const req = http.get({ host, port, path: check, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      const s = res.statusCode ?? 0;
      // Unlike ServiceComb Mesher, a check without an explicit match needs 2xx/3xx, not just any answer.
      done(s >= 200 && s < 400 ? { ok: true } : { ok: false, reason: `GET ${check} answered ${s}` });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${check} timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => done({ ok: false, reason: e.message }));
  });
}

/** Periodically checks the local app and flips the instance DOWN/UP; traffic follows the status. */
@Injectable()
export class AppHealthService {
  private readonly log = new Logger('app-health');
  private timer: NodeJS.Timeout | null = null;
  private readonly state = new HealthState(1, 2, true);
  lastReason: string | null = null;

  constructor(
    @Inject(MESHER_CONFIG) private readonly cfg: MesherConfig,
    private readonly registration: RegistrationService,
  ) {}

  get enabled(): boolean {
    return this.cfg.appHealthCheck !== null && this.cfg.appPort !== null;
  }

  get healthy(): boolean {
    return this.state.healthy;
  }

  /** Probes once (the first status to register with), then on an interval. */
  async start(): Promise<'UP' | 'DOWN'> {
    if (!this.enabled) return 'UP';
    const first = await this.probe();
    if (!first.ok) {
      this.state.record(false);
      this.state.record(false);
    }
    this.timer = setInterval(() => void this.tick(), this.cfg.appHealthIntervalMs);
    this.timer.unref();
    return this.state.healthy ? 'UP' : 'DOWN';
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private probe(): Promise<ProbeResult> {
    const timeout = Math.max(100, Math.min(this.cfg.appHealthIntervalMs, 5000));
    return probeApp(this.cfg.appHost, this.cfg.appPort!, this.cfg.appHealthCheck!, timeout);
  }

  private async tick(): Promise<void> {
    const r = await this.probe();
    const was = this.state.healthy;
    const now = this.state.record(r.ok);
    this.lastReason = r.ok ? null : r.reason;
    if (now === was) return;
    this.log.warn(`local app is ${now ? 'healthy again: marking UP' : `unhealthy (${this.lastReason}): marking DOWN`}`);
    try {
      await this.registration.setStatus(now ? 'UP' : 'DOWN');
    } catch (e) {
      this.log.error(`cannot update instance status: ${(e as Error).message}`);
    }
  }
}
