import { setPriority } from 'node:os';
import type { AgentLimits } from '../lib/limits.js';
import { cpuMs, rssBytes } from '../lib/process/proc.js';

/** How often a version's process is sampled. */
const SAMPLE_MS = 250;
/** A process busier than this over one sample is asked whether its event loop still turns. */
const BUSY_FRACTION = 0.5;
const MiB = 1024 * 1024;
/** Every agent runs below the platform; one that keeps a core busy drops below the agents that do not. */
export const AGENT_NICENESS = 10;
const BUSY_AGENT_NICENESS = 19;

export interface WatchdogOptions {
  /** The version's own address; a request without the invoke token is answered by the shim alone. */
  url: URL;
  limits: AgentLimits;
  /** What an idle workerd holds; the memory limit is counted above it. */
  idleRssBytes: number;
  /** The workerd process now (it changes when workerd restarts), or null when there is none. */
  pid: () => number | null;
  /** Called once, with the limit the version broke. */
  onBreach: (reason: string) => void;
}

/**
 * Holds one agent version's process to its limits, from outside, since workerd enforces
 * none of its own:
 * - memory: resident memory above an idle workerd's, past `processMemoryMb` (the JavaScript
 *   heap itself is capped at `memoryMb` by V8, which aborts the version past it);
 * - CPU: while the process is busy, it is sent a request the shim answers without the
 *   agent's code (no invoke token: 401). If that stays unanswered while the process burns
 *   `cpuMs` of CPU, one request has run that long without returning to the event loop.
 * Requests that wait on I/O are bounded by the gateway's own timeouts instead.
 * While a version keeps a core busy it also runs at the lowest CPU priority, so agents that
 * answer quickly are scheduled ahead of it.
 */
export class VersionWatchdog {
  private timer: NodeJS.Timeout | null = null;
  private last: { at: number; cpu: number; pid: number } | null = null;
  private probe: { cpuAtSend: number; abort: AbortController } | null = null;
  private breached = false;
  private niceness: { pid: number; value: number } | null = null;

  constructor(private readonly opts: WatchdogOptions) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.probe?.abort.abort();
    this.probe = null;
  }

  private breach(reason: string): void {
    if (this.breached) return;
    this.breached = true;
    this.stop();
    this.opts.onBreach(reason);
  }

  private tick(): void {
    const pid = this.opts.pid();
    if (pid === null) return;
    const rss = rssBytes(pid);
    const cpu = cpuMs(pid);
    if (rss === null || cpu === null) return; // restarting: the next tick sees the new process
    const { limits } = this.opts;
    if (rss - this.opts.idleRssBytes > limits.processMemoryMb * MiB) {
      return this.breach(`its process used more than ${limits.processMemoryMb} MiB of memory (process memory limit)`);
    }
    const now = performance.now();
    const last = this.last?.pid === pid ? this.last : null;
    this.last = { at: now, cpu, pid };
    if (this.probe) {
      this.setNiceness(pid, BUSY_AGENT_NICENESS);
      if (cpu - this.probe.cpuAtSend >= limits.cpuMs) {
        this.breach(`one request ran ${limits.cpuMs / 1000} s of CPU without returning to the event loop (CPU limit)`);
      }
      return;
    }
    const busy = last !== null && (cpu - last.cpu) / (now - last.at) >= BUSY_FRACTION;
    this.setNiceness(pid, busy ? BUSY_AGENT_NICENESS : AGENT_NICENESS);
    if (busy) this.sendProbe(cpu);
  }

  private setNiceness(pid: number, value: number): void {
    if (this.niceness?.pid === pid && this.niceness.value === value) return;
    this.niceness = { pid, value };
    try {
      setPriority(pid, value);
    } catch {
      // the process is gone, or this is not allowed here; the limits still hold
    }
  }

  private sendProbe(cpuAtSend: number): void {
    const abort = new AbortController();
    const probe = { cpuAtSend, abort };
    this.probe = probe;
    fetch(this.opts.url, { signal: abort.signal, headers: { 'MF-Disable-Pretty-Error': '1' } })
      .then((res) => res.body?.cancel())
      .catch(() => undefined)
      .finally(() => {
        if (this.probe === probe) this.probe = null;
      });
  }
}
