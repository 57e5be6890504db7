import type { BackendHealth } from '../core/backend-health.js';

/** How many probes in a row it takes to change a backend's health. */
export interface Thresholds {
  /** Successes in a row that bring a down backend back up. */
  rise: number;
  /** Failures in a row that take an up backend down. */
  fall: number;
}

export interface Transition {
  from: BackendHealth;
  to: BackendHealth;
  /** The probes in a row that decided it (rise or fall). */
  probes: number;
}

/**
 * One backend's health as the agent sees it: the state, plus the run of probe results that disagree with
 * it. Only an unbroken run of `fall` failures (or `rise` successes) flips the state, so one lost probe does
 * not move traffic, and a backend that flaps does not come back until it has answered `rise` times.
 */
export class HealthTracker {
  private streak = 0;

  constructor(
    private current: BackendHealth,
    private readonly thresholds: Thresholds,
  ) {}

  get health(): BackendHealth {
    return this.current;
  }

  /** Feed one probe result; returns the transition it completes, or null. */
  observe(ok: boolean): Transition | null {
    if (ok === (this.current === 'up')) {
      this.streak = 0;
      return null;
    }
    this.streak++;
    const needed = this.current === 'up' ? this.thresholds.fall : this.thresholds.rise;
    if (this.streak < needed) return null;
    const transition: Transition = {
      from: this.current,
      to: this.current === 'up' ? 'down' : 'up',
      probes: this.streak,
    };
    this.current = transition.to;
    this.streak = 0;
    return transition;
  }

  /**
   * Take a state decided elsewhere (the kernel's record after `service set`, or a write that failed) and
   * count afresh from there.
   */
  reset(health: BackendHealth): void {
    this.current = health;
    this.streak = 0;
  }
}
