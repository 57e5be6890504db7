import { run } from '../sys/run.js';

/** What curl got and which local address and port the kernel gave the connection (the "real client"). */
export interface CurlResult {
  body: string;
  localIp: string;
  localPort: number;
}

const MARKER = '\n--lbctl-curl--';

/**
 * curl inside a network namespace, reporting the connection's local address and port along with the body:
 * that pair is what a backend must see in the PROXY header. Fails (LbctlError) on HTTP errors and timeouts.
 */
export async function curlFrom(
  netns: string,
  url: string,
  extra: readonly string[] = [],
  maxSeconds = 20,
): Promise<CurlResult> {
  const res = await run(
    'curl',
    [
      '-sS',
      '-g',
      '--fail',
      '--max-time',
      String(maxSeconds),
      '-w',
      `${MARKER}%{local_ip} %{local_port}`,
      ...extra,
      url,
    ],
    { netns, timeoutMs: (maxSeconds + 10) * 1000 },
  );
  const at = res.stdout.lastIndexOf(MARKER);
  const [localIp = '', localPort = '0'] = res.stdout.slice(at + MARKER.length).split(' ');
  return { body: res.stdout.slice(0, at), localIp, localPort: Number(localPort) };
}
