import { buildSnapshot, EMPTY_STATE, type RegistrySnapshot } from './registry-snapshot';

/**
 * The one mutable reference between control and data plane: the admin side swaps a whole new
 * snapshot in; a request reads `current` once and keeps that object for its whole life.
 */
export class SnapshotHolder {
  private snapshot: RegistrySnapshot;
  private readonly listeners: Array<(s: RegistrySnapshot) => void> = [];

  constructor(initial?: RegistrySnapshot) {
    this.snapshot = initial ?? buildSnapshot(EMPTY_STATE, Date.now());
  }

  get current(): RegistrySnapshot {
    return this.snapshot;
  }

  swap(next: RegistrySnapshot): void {
    this.snapshot = next;
    for (const l of this.listeners) l(next);
  }

  onSwap(listener: (s: RegistrySnapshot) => void): void {
    this.listeners.push(listener);
  }
}
