import { Command, Flags, type Interfaces, toConfiguredId } from '@oclif/core';
import { chalkStderr } from 'chalk';
import { errorJson, errorLine, toLbctlError } from './error-report.js';
import type { ListingOptions } from './output.js';
import { type OutputFormat, outputFlag, toYaml } from './output-format.js';
import { requirePrivileges } from './privileges.js';
import { outputWidth } from './table-fit.js';

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>;
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * The base every lbctl command extends. It gives all of them `--json` (the value `run()` returns is the JSON
 * document), one error path with documented exit codes that are the same with and without `--json`, and
 * parsed flags/args on `this.flags`/`this.args`.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  /**
   * Every command takes --netns, so an alias such as `alias lbctl='lbctl --netns lb'` works for all of them;
   * the ones that act on no balancer (ppv2, lab) ignore it. DatapathCommand enters the namespace.
   */
  static override baseFlags = {
    netns: Flags.string({
      summary: 'Network namespace of the balancer (an `ip netns` name); ppv2 and lab commands ignore it.',
      description:
        'Interfaces, tc filters and routes are looked up inside it; pinned maps stay on the host bpffs.',
      helpGroup: 'GLOBAL',
      env: 'LBCTL_NETNS',
    }),
  };

  /**
   * Why the command needs root ("to read the balancer's pinned maps"), or undefined. Such a command is
   * refused with PERMISSION (exit 4) after its flags parse, before it looks at anything (privileges.ts).
   */
  static needsRoot: string | undefined;

  protected flags!: CommandFlags<T>;
  protected args!: CommandArgs<T>;
  /** Every positional argument, for commands that take a variable number (`static strict = false`). */
  protected positionals!: string[];

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags, argv } = await this.parse(this.ctor);
    this.positionals = argv.map(String);
    this.flags = flags as CommandFlags<T>;
    this.args = args as CommandArgs<T>;
    const { needsRoot } = this.ctor as unknown as { needsRoot?: string };
    if (needsRoot) requirePrivileges(this.commandLine(), needsRoot);
  }

  /** The command as the user typed it, e.g. "lbctl service add". */
  protected commandLine(): string {
    return this.id ? `lbctl ${toConfiguredId(this.id, this.config)}` : 'lbctl';
  }

  /**
   * oclif's default `catch` rethrows, and its top-level handler then picks its own exit code and format.
   * Handling the error here keeps the code we chose (process.exitCode survives) and the output format.
   */
  protected override async catch(err: Error & { exitCode?: number }): Promise<void> {
    const error = toLbctlError(err, this.commandLine());
    process.exitCode = error.exitCode;
    if (this.jsonEnabled()) {
      this.logJson(errorJson(error));
    } else {
      const line = errorLine(error);
      process.stderr.write(`${chalkStderr.level > 0 ? chalkStderr.red(line) : line}\n`);
    }
    if (process.env.LBCTL_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
  }

  /**
   * The format a data command prints in: its `-o` flag (output-format.ts) or `--json`; 'table' for
   * commands without `-o` (`export` has an `--output` of its own), and before the flags are parsed (an
   * error while parsing them).
   */
  protected outputFormat(): OutputFormat {
    if (super.jsonEnabled()) return 'json';
    if (this.ctor.flags?.output !== outputFlag.output) return 'table';
    return (this.flags as { output?: OutputFormat } | undefined)?.output ?? 'table';
  }

  /** `-o json` and `-o yaml` are --json for oclif: the value run() returns is the output, logs are muted. */
  public override jsonEnabled(): boolean {
    const format = this.outputFormat();
    return format === 'json' || format === 'yaml';
  }

  /**
   * How tables are laid out: cut to the terminal's width (table-fit.ts); whole with `-o wide` or when stdout
   * is not a terminal, so piped output is always complete.
   */
  protected listing(): ListingOptions {
    const wide = this.outputFormat() === 'wide';
    return { wide, maxWidth: wide ? Number.POSITIVE_INFINITY : outputWidth(process.stdout, process.env) };
  }

  /**
   * The document on stdout, as YAML with `-o yaml`, else plain JSON (oclif's logJson colourises, which breaks
   * `jq` when FORCE_COLOR is set).
   */
  public override logJson(json: unknown): void {
    process.stdout.write(
      this.outputFormat() === 'yaml' ? toYaml(json) : `${JSON.stringify(json, null, 2)}\n`,
    );
  }
}
