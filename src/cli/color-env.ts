/**
 * chalk (used by oclif and Ink) honours FORCE_COLOR but not NO_COLOR (https://no-color.org). Translating
 * one into the other before chalk is first imported gives every colour source in the process one switch.
 * An explicit FORCE_COLOR wins, so `NO_COLOR=1 FORCE_COLOR=1` still colours, as the convention asks.
 */
export function applyColorEnvironment(env: NodeJS.ProcessEnv): void {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  if (noColor && env.FORCE_COLOR === undefined) env.FORCE_COLOR = '0';
}
