import { Flags } from '@oclif/core';
import { DatapathCommand } from '../cli/datapath-command.js';
import { DatapathMaps, describe } from '../core/maps.js';
import { HealthAgent, instanceIo } from '../health/agent.js';
import { formatHealthEvent } from '../health/event-line.js';
import { AGENT_DEFAULTS, detectionWindowMs, parseAgentOptions } from '../health/options.js';

export default class Agent extends DatapathCommand<typeof Agent> {
  static override summary =
    'Health-check the backends of services with liveness on; take failing ones out of selection and put them back.';

  static override description = [
    'Runs in the foreground until SIGINT or SIGTERM (then exits 0), e.g. as a systemd service. Every interval ' +
      'it re-reads the services and probes each backend of each service with liveness on (`service add|set ' +
      '--liveness`): a TCP connect from the balancer namespace, followed by a PROXY v2 LOCAL header when the ' +
      'service injects PPv2, so backends that require the header accept the probe.',
    'After --fall failed probes in a row a backend is marked down and gets no new connections (its Maglev ' +
      'slots go to the others); its open connections continue. After --rise good probes in a row it is up ' +
      'again. When every backend of a service is down, all of them stay in selection (fail-open).',
    'Each change is one line on stdout (JSON with --json); the state lives in the kernel, where `status`, ' +
      '`service show` and `top` show it. Stopping the agent leaves the health as it is; a new agent continues ' +
      'from there. `service set S --no-liveness` marks every backend of S up.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> --netns lb <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --interval 1 --timeout 0.5 --fall 2 --rise 3 --json',
  ];

  static override flags = {
    interval: Flags.string({
      summary: 'Seconds between rounds of probes (decimals allowed, 0.1 to 3600).',
      default: AGENT_DEFAULTS.interval,
    }),
    timeout: Flags.string({
      summary: 'Seconds a probe may take before it counts as failed (at most --interval).',
      default: AGENT_DEFAULTS.timeout,
    }),
    rise: Flags.integer({
      summary: 'Good probes in a row that bring a down backend back (1 to 100).',
      default: AGENT_DEFAULTS.rise,
    }),
    fall: Flags.integer({
      summary: 'Failed probes in a row that take a backend out (1 to 100).',
      default: AGENT_DEFAULTS.fall,
    }),
  };

  public async run(): Promise<void> {
    const options = parseAgentOptions(this.flags);
    // Nothing to watch is a start-up error (systemd's Restart= retries); later it is only a warning.
    DatapathMaps.open(this.instance).close();
    const json = this.jsonEnabled();
    const say = (text: string) => process.stderr.write(`lbctl agent: ${text}\n`);
    const controller = new AbortController();
    const stop = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) return;
      say(`${signal}: stopping after the current round`);
      controller.abort();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    say(
      `probing the backends of ${describe(this.instance)} every ${options.intervalMs / 1000}s ` +
        `(timeout ${options.timeoutMs / 1000}s, fall ${options.fall}, rise ${options.rise}: ` +
        `a failed backend leaves selection within ${detectionWindowMs(options) / 1000}s)`,
    );
    try {
      const agent = new HealthAgent(instanceIo(this.instance), options, {
        onTransition: (event) => process.stdout.write(`${formatHealthEvent(event, json)}\n`),
        onWarning: (text) => say(`warning: ${text}`),
      });
      await agent.run(controller.signal);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    say('stopped; backend health stays as the kernel has it');
  }
}
