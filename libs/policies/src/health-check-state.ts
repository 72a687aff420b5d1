/**
 * Active health-check verdict with hysteresis: it takes `healthyThreshold` successes in a row to become
 * healthy and `unhealthyThreshold` failures in a row to become unhealthy, so one blip does not flap it.
 */
export class HealthState {
  private isHealthy: boolean;
  private successes = 0;
  private failures = 0;
  private readonly healthyThreshold: number;
  private readonly unhealthyThreshold: number;

  constructor(healthyThreshold: number, unhealthyThreshold: number, initiallyHealthy = true) {
    this.healthyThreshold = Math.max(1, healthyThreshold);
    this.unhealthyThreshold = Math.max(1, unhealthyThreshold);
    this.isHealthy = initiallyHealthy;
  }

  /** Records one check result; returns whether the instance is healthy now. */
  record(ok: boolean): boolean {
    if (ok) {
      this.failures = 0;
      this.successes = Math.min(this.successes + 1, this.healthyThreshold);
      if (this.successes >= this.healthyThreshold) this.isHealthy = true;
    } else {
      this.successes = 0;
      this.failures = Math.min(this.failures + 1, this.unhealthyThreshold);
      if (this.failures >= this.unhealthyThreshold) this.isHealthy = false;
    }
    return this.isHealthy;
  }

  get healthy(): boolean {
    return this.isHealthy;
  }
}
