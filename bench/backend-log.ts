/**
 * The backends' side of the correctness check. The lab's nginx logs every request as one JSON line; after
 * each measurement the logs of the backends involved are read, scanned and truncated (nginx appends with
 * O_APPEND, so it carries on at the start). Scanning is a plain substring pass: a keep-alive run logs a
 * few hundred thousand lines and parsing each as JSON would cost seconds.
 */
import { readFile, truncate } from 'node:fs/promises';

export interface LogScan {
  lines: number;
  /** Lines per HTTP status. */
  byStatus: Record<string, number>;
  /** Lines whose `proxy_protocol_addr` is the client's address (the PROXY header arrived intact). */
  withClientAddress: number;
  /** `request_body_file` of the last upload answered 200, if any. */
  lastUploadFile: string | undefined;
  /**
   * Bytes the backends read for upload requests, whatever their status: the sum of nginx's
   * `$request_length` (request line, headers and body) over the `/upload` lines.
   */
  uploadBytes: number;
}

export function emptyScan(): LogScan {
  return { lines: 0, byStatus: {}, withClientAddress: 0, lastUploadFile: undefined, uploadBytes: 0 };
}

/** Scan access-log text (nginx `escape=json` lines from src/lab/nginx.ts). */
export function scanAccessLog(text: string, clientAddress: string, into: LogScan = emptyScan()): LogScan {
  const addrField = `"proxy_protocol_addr":"${clientAddress}"`;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    into.lines += 1;
    const status = /"status":"(\d+)"/.exec(line)?.[1] ?? 'unknown';
    into.byStatus[status] = (into.byStatus[status] ?? 0) + 1;
    if (line.includes(addrField)) into.withClientAddress += 1;
    if (!line.includes('"uri":"/upload"')) continue;
    into.uploadBytes += Number(/"request_length":"(\d+)"/.exec(line)?.[1] ?? 0);
    if (status === '200') {
      const file = /"request_body_file":"([^"]+)"/.exec(line)?.[1];
      if (file) into.lastUploadFile = file;
    }
  }
  return into;
}

/** Lines with a 2xx status. */
export function successLines(scan: Pick<LogScan, 'byStatus'>): number {
  return Object.entries(scan.byStatus)
    .filter(([status]) => /^2\d\d$/.test(status))
    .reduce((sum, [, n]) => sum + n, 0);
}

/** Read, scan and empty the given access logs. */
export async function collectAccessLogs(files: readonly string[], clientAddress: string): Promise<LogScan> {
  const scan = emptyScan();
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    scanAccessLog(text, clientAddress, scan);
    await truncate(file, 0).catch(() => undefined);
  }
  return scan;
}

/** Empty the logs without scanning (before the first measurement: set-up probes are not counted). */
export async function truncateLogs(files: readonly string[]): Promise<void> {
  for (const file of files) await truncate(file, 0).catch(() => undefined);
}
