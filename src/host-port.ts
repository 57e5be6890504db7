/**
 * "ADDRESS:PORT" as users, URLs, nginx/HAProxy `listen`/`bind` and `ss` filters write it: an IPv6 address
 * (the only kind with colons) goes in brackets, or its colons would run into the port's. The one place that
 * spells this, so the CLI, the dashboard, the lab and the tests print endpoints alike. A base module (no
 * imports), so every layer may use it.
 */
export function hostPort(address: string, port: number | string): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
