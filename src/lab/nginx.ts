import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LbctlError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { run, spawnDaemon } from '../sys/run.js';
import { assertSocketsFree, listenSpecs } from './net.js';
import { removeScratchDir, stopAndRemove } from './scratch-dir.js';

/**
 * An nginx backend in a namespace that reports what it saw of each connection: `GET /whoami` answers one
 * JSON line, the access log holds the same facts per request, `GET /bytes/<N>` downloads N random bytes
 * of known sha256, and `POST /upload` keeps the body in a file so its sha256 can be checked.
 *
 * It runs in the foreground with `master_process off`: one process, so its PID is the whole server and
 * stopping it leaves no orphaned workers.
 */

export interface NginxOptions {
  netns?: string;
  /** Local addresses to listen on (IPv4 or IPv6, no brackets). */
  addresses: string[];
  /**
   * Addresses to listen on with `reuseport`, the same ports: several instances listening on one shared
   * address split its connections between them by the kernel's hash of each connection's addresses and ports.
   * Not checked for other listeners (sharing is the point). Default none.
   */
  sharedAddresses?: string[];
  /** Ports to listen on for every address; default [80], or [443] with `tls`. */
  ports?: number[];
  /** `listen ... proxy_protocol` (default true). false gives a plain backend. */
  proxyProtocol?: boolean;
  /** `listen ... ssl` with a self-signed certificate made at start (TLS 1.2 and 1.3). */
  tls?: boolean;
  /** Sizes in bytes of random files served at `/bytes/<size>`. */
  downloadSizes?: number[];
  /** Parent directory for the instance's temp dir; default the OS temp dir. */
  parentDir?: string;
  /** Let nginx outlive this process (for `lbctl lab up`). */
  detached?: boolean;
  timeoutMs?: number;
}

/** What `/whoami` answers and what the access log records; empty strings where nginx has no value. */
export interface NginxConnectionView {
  proxy_protocol_addr: string;
  proxy_protocol_port: string;
  proxy_protocol_server_addr: string;
  proxy_protocol_server_port: string;
  remote_addr: string;
  remote_port: string;
  server_addr: string;
  server_port: string;
  ssl_protocol: string;
  /** nginx's connection serial number: equal for requests on one kept-alive connection. */
  connection: string;
}

export interface NginxAccessEntry extends NginxConnectionView {
  time: string;
  method: string;
  uri: string;
  status: number;
  bytes_sent: number;
  body_bytes_sent: number;
  request_length: number;
  /** Path of the kept request body (uploads only), else empty. */
  request_body_file: string;
}

export interface DownloadFile {
  size: number;
  /** URL path, e.g. `/bytes/1048576`. */
  path: string;
  file: string;
  sha256: string;
}

export interface NginxBackend {
  pid: number;
  startTime: number;
  netns: string | undefined;
  dir: string;
  addresses: string[];
  ports: number[];
  proxyProtocol: boolean;
  tls: boolean;
  /** Self-signed certificate (PEM) when `tls`; pass it to `curl --cacert` or use `-k`. */
  certFile: string | undefined;
  accessLogFile: string;
  errorLogFile: string;
  downloads: DownloadFile[];
  /** `http://ADDR:PORT` (or https) for the first address and port. */
  url: string;
  download(size: number): DownloadFile;
  accessLog(): Promise<NginxAccessEntry[]>;
  /** Wait until the access log has at least `count` entries (it is written after the response). */
  waitForRequests(count: number, timeoutMs?: number): Promise<NginxAccessEntry[]>;
  errorLog(): Promise<string>;
  /** Uploads received so far with the sha256 of each kept body. */
  uploads(): Promise<Array<NginxAccessEntry & { sha256: string; size: number }>>;
  /** sha256 of the last upload, waiting until at least `count` uploads (default 1) are logged. */
  lastUploadSha256(count?: number, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Largest accepted upload. */
export const NGINX_MAX_BODY = 64 * 1024 * 1024;

const VIEW_FIELDS: Array<[keyof NginxConnectionView, string]> = [
  ['proxy_protocol_addr', '$proxy_protocol_addr'],
  ['proxy_protocol_port', '$proxy_protocol_port'],
  ['proxy_protocol_server_addr', '$proxy_protocol_server_addr'],
  ['proxy_protocol_server_port', '$proxy_protocol_server_port'],
  ['remote_addr', '$remote_addr'],
  ['remote_port', '$remote_port'],
  ['server_addr', '$server_addr'],
  ['server_port', '$server_port'],
  ['ssl_protocol', '$ssl_protocol'],
  ['connection', '$connection'],
];

const LOG_FIELDS: Array<[string, string]> = [
  ['time', '$time_iso8601'],
  ...VIEW_FIELDS,
  ['method', '$request_method'],
  ['uri', '$uri'],
  ['status', '$status'],
  ['bytes_sent', '$bytes_sent'],
  ['body_bytes_sent', '$body_bytes_sent'],
  ['request_length', '$request_length'],
  ['request_body_file', '$request_body_file'],
];
const NUMERIC_LOG_FIELDS = ['status', 'bytes_sent', 'body_bytes_sent', 'request_length'] as const;

/** A JSON object template over nginx variables; the values are addresses, ports and numbers. */
function jsonTemplate(fields: Array<[string, string]>): string {
  return `{${fields.map(([k, v]) => `"${k}":"${v}"`).join(',')}}`;
}

function nginxConfig(o: {
  dir: string;
  addresses: string[];
  sharedAddresses: string[];
  ports: number[];
  proxyProtocol: boolean;
  tls: boolean;
}): string {
  const { dir } = o;
  const flags = [o.tls ? ' ssl' : '', o.proxyProtocol ? ' proxy_protocol' : ''].join('');
  const listen = (addresses: string[], extra: string) =>
    addresses.flatMap((a) => o.ports.map((p) => `    listen ${hostPort(a, p)}${flags}${extra};`));
  const listens = [...listen(o.addresses, ''), ...listen(o.sharedAddresses, ' reuseport')];
  const tls = o.tls
    ? [
        `    ssl_certificate ${dir}/cert.pem;`,
        `    ssl_certificate_key ${dir}/key.pem;`,
        '    ssl_protocols TLSv1.2 TLSv1.3;',
      ]
    : [];
  return [
    'master_process off;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log info;`,
    'events { worker_connections 4096; }',
    'http {',
    '  default_type application/octet-stream;',
    '  sendfile on;',
    '  keepalive_requests 10000;',
    // Every temp path under our dir: Debian's defaults under /var/lib/nginx may not exist or be shared.
    `  client_body_temp_path ${dir}/body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    `  log_format lab escape=json '${jsonTemplate(LOG_FIELDS)}';`,
    `  access_log ${dir}/access.log lab;`,
    '  server {',
    ...listens,
    ...tls,
    `    root ${dir}/www;`,
    '    location = /whoami {',
    '      default_type application/json;',
    `      return 200 '${jsonTemplate(VIEW_FIELDS)}\\n';`,
    '    }',
    '    location /bytes/ { }',
    // nginx reads (and here keeps) a request body only for a handler that asks for it. proxy_pass asks
    // for it; the body itself is not forwarded, the local sink only produces the reply.
    '    location = /upload {',
    `      client_max_body_size ${NGINX_MAX_BODY / 1024 / 1024}m;`,
    '      client_body_in_file_only on;',
    '      proxy_pass_request_body off;',
    `      proxy_set_header Content-Length "";`,
    `      proxy_pass http://unix:${dir}/sink.sock:/;`,
    '      add_header X-Body-File $request_body_file always;',
    '    }',
    '  }',
    '  server {',
    `    listen unix:${dir}/sink.sock;`,
    '    access_log off;',
    `    location / { default_type text/plain; return 200 'stored\\n'; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Write `size` random bytes to `file` and return their sha256 (streamed, so large files are fine). */
async function writeRandomFile(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(file, 'w');
  try {
    const chunk = 1024 * 1024;
    for (let left = size; left > 0; left -= chunk) {
      const buf = randomBytes(Math.min(chunk, left));
      hash.update(buf);
      await fh.write(buf);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** sha256 (hex) of a file. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function makeCertificate(dir: string, addresses: string[]): Promise<void> {
  const san = ['DNS:lbctl-lab.test', ...addresses.map((a) => `IP:${a}`)].join(',');
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-days', '7', '-subj', '/CN=lbctl-lab.test', '-addext', `subjectAltName=${san}`],
    ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
  ]);
}

export async function startNginx(opts: NginxOptions): Promise<NginxBackend> {
  if (opts.addresses.length === 0) throw new LbctlError('USAGE', 'nginx backend needs at least one address');
  const tls = opts.tls ?? false;
  const proxyProtocol = opts.proxyProtocol ?? true;
  const ports = opts.ports ?? [tls ? 443 : 80];
  for (const size of opts.downloadSizes ?? []) {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new LbctlError('USAGE', `invalid download size: ${size}`);
  }
  const sockets = listenSpecs(opts.addresses, ports);
  await assertSocketsFree(sockets, opts.netns);
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'lbctl-nginx-'));
  try {
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'www/bytes']) {
      await mkdir(join(dir, sub), { recursive: true });
    }
    const downloads: DownloadFile[] = [];
    for (const size of new Set(opts.downloadSizes ?? [])) {
      const file = join(dir, 'www/bytes', String(size));
      downloads.push({ size, path: `/bytes/${size}`, file, sha256: await writeRandomFile(file, size) });
    }
    if (tls) await makeCertificate(dir, opts.addresses);
    const conf = join(dir, 'nginx.conf');
    const sharedAddresses = opts.sharedAddresses ?? [];
    await writeFile(
      conf,
      nginxConfig({ dir, addresses: opts.addresses, sharedAddresses, ports, proxyProtocol, tls }),
    );

    const daemon = await spawnDaemon(
      'nginx',
      ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
      {
        netns: opts.netns,
        logFile: join(dir, 'nginx.out'),
        detached: opts.detached,
        // The directory is removed if start-up fails; the error carries the log's last line instead.
        logHint: false,
        timeoutMs: opts.timeoutMs,
        // nginx binds its sockets one after another; ready means all of them.
        waitListening: sockets,
      },
    );

    const accessLogFile = join(dir, 'access.log');
    const accessLog = async (): Promise<NginxAccessEntry[]> => {
      const text = await readFile(accessLogFile, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const raw = JSON.parse(line) as Record<string, string>;
          const entry = { ...raw } as unknown as NginxAccessEntry;
          for (const k of NUMERIC_LOG_FIELDS) entry[k] = Number(raw[k]);
          return entry;
        });
    };
    const waitForRequests = async (count: number, timeoutMs = 3_000): Promise<NginxAccessEntry[]> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const entries = await accessLog();
        if (entries.length >= count) return entries;
        if (Date.now() > deadline) {
          throw new LbctlError('FAILURE', `nginx logged ${entries.length} requests, expected ${count}`);
        }
        await sleep(25);
      }
    };
    const uploads = async () => {
      const done = (await accessLog()).filter((e) => e.uri === '/upload' && e.request_body_file !== '');
      return Promise.all(
        done.map(async (e) => ({
          ...e,
          sha256: await sha256File(e.request_body_file),
          size: (await stat(e.request_body_file)).size,
        })),
      );
    };

    return {
      pid: daemon.pid,
      startTime: daemon.startTime,
      netns: opts.netns,
      dir,
      addresses: [...opts.addresses],
      ports,
      proxyProtocol,
      tls,
      certFile: tls ? join(dir, 'cert.pem') : undefined,
      accessLogFile,
      errorLogFile: join(dir, 'error.log'),
      downloads,
      url: `${tls ? 'https' : 'http'}://${hostPort(opts.addresses[0] as string, ports[0] as number)}`,
      download(size: number): DownloadFile {
        const found = downloads.find((d) => d.size === size);
        if (!found) throw new LbctlError('USAGE', `no download of ${size} bytes`, 'pass it in downloadSizes');
        return found;
      },
      accessLog,
      waitForRequests,
      errorLog: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
      uploads,
      async lastUploadSha256(count = 1, timeoutMs = 3_000): Promise<string> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const list = await uploads();
          const last = list[list.length - 1];
          if (list.length >= count && last) return last.sha256;
          if (Date.now() > deadline) {
            throw new LbctlError('FAILURE', `nginx received ${list.length} uploads, expected ${count}`);
          }
          await sleep(25);
        }
      },
      stop: () => stopAndRemove(daemon, dir),
    };
  } catch (err) {
    await removeScratchDir(dir);
    throw err;
  }
}
