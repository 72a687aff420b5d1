import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { yaml } from '../yaml-lazy';
import { loadTlsMaterial, type TlsLabels } from '@mesher/proxy-core';
import { OPTIONS, type MesherConfig, type OptionDef } from './config.schema';
import { ConfigError } from './config-error';
import { etcdCredentials } from './etcd-credentials';

export { ConfigError };

type Raw = { value: unknown; from: string };

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const NAME_RE = /^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/;

function parseDuration(v: unknown, defaultUnitMs: number): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * defaultUnitMs;
  if (typeof v !== 'string') return null;
  const m = DURATION_RE.exec(v.trim());
  if (!m) return null;
  return Number(m[1]) * (m[2] ? UNIT_MS[m[2]] : defaultUnitMs);
}

function isHost(v: string): boolean {
  return isIP(v) !== 0 || /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(v);
}

function convert(def: OptionDef, raw: Raw): unknown {
  const { value: v, from } = raw;
  const shown = def.secret ? '(hidden)' : JSON.stringify(v);
  const bad = (why: string) => new ConfigError(`invalid ${def.flag} (${from}): ${shown} ${why}`);
  switch (def.type) {
    case 'port': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw bad('is not a port (0-65535)');
      return n;
    }
    case 'host':
      if (typeof v !== 'string' || !isHost(v)) throw bad('is not an IP address or host name');
      return v;
    case 'string':
    case 'path':
      if (typeof v !== 'string' || v.length === 0) throw bad('must be a non-empty string');
      return v;
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string' && /^(true|1|yes|on)$/i.test(v)) return true;
      if (typeof v === 'string' && /^(false|0|no|off)$/i.test(v)) return false;
      throw bad('must be true or false');
    case 'enum':
      if (typeof v !== 'string' || !def.choices!.includes(v)) throw bad(`must be one of ${def.choices!.join(', ')}`);
      return v;
    case 'duration': {
      const ms = parseDuration(v, 1000);
      if (ms === null) throw bad('is not a duration (e.g. 500ms, 5s, 1m; a bare number is seconds)');
      return ms;
    }
    case 'seconds': {
      const ms = parseDuration(v, 1000);
      if (ms === null) throw bad('is not a duration (e.g. 15s, 1m; a bare number is seconds)');
      return Math.ceil(ms / 1000);
    }
    case 'labels': {
      const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : typeof v === 'object' && v ? Object.entries(v).map(([k, x]) => `${k}=${x}`) : null;
      if (!items) throw bad('must be k=v pairs');
      const out: Record<string, string> = {};
      for (const item of items) {
        const s = String(item).trim();
        if (!s) continue;
        const eq = s.indexOf('=');
        if (eq <= 0) throw bad(`has '${s}', expected k=v`);
        out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
      }
      return out;
    }
    case 'int': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw bad('is not a whole number (0 or more)');
      return n;
    }
    case 'bytes': {
      const m = typeof v === 'number' ? [String(v), String(v), ''] : typeof v === 'string' ? /^(\d+)([km]i?b?)?$/i.exec(v.trim()) : null;
      const n = m ? Number(m[1]) * (m[2] ? (m[2][0].toLowerCase() === 'k' ? 1024 : 1024 * 1024) : 1) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw bad('is not a size in bytes (e.g. 8192, 32k, 1m)');
      return n;
    }
    case 'host-list': {
      const items = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',') : null;
      if (!items) throw bad('must be a comma-separated list of host names');
      const hosts = items.map((h) => h.trim().toLowerCase().replace(/\.$/, '')).filter(Boolean);
      for (const h of hosts) if (!isHost(h)) throw bad(`has '${h}', expected a host name or IP address`);
      return hosts;
    }
    case 'url-list': {
      const items = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : null;
      if (!items) throw bad('must be a comma-separated list of URLs');
      for (const u of items) if (!/^https?:\/\/[^/\s]+\/?$/.test(u)) throw bad(`has '${u}', expected http(s)://host:port`);
      return items;
    }
  }
}

export interface ArgvResult {
  flags: Map<string, string[]>;
  positionals: string[];
}

/** `--flag value`, `--flag=value`; a bool flag may stand alone. */
export function parseArgv(argv: readonly string[]): ArgvResult {
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  const known = new Map(OPTIONS.map((o) => [o.flag, o]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const def = known.get(name);
    if (!def) throw new ConfigError(`unknown option ${name} (see mesher --help)`);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else if (def.type === 'bool' && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) value = 'true';
    else {
      if (i + 1 >= argv.length) throw new ConfigError(`option ${name} needs a value`);
      value = argv[++i];
    }
    const list = flags.get(name) ?? [];
    list.push(value);
    flags.set(name, list);
  }
  return { flags, positionals };
}

/** Precedence: flags > environment > config file > defaults. Throws ConfigError naming the option. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): MesherConfig {
  const { flags } = parseArgv(argv);
  const cfgPath = flags.get('--config')?.at(-1) ?? env.MESHER_CONFIG ?? null;
  let file: Record<string, unknown> = {};
  if (cfgPath) {
    let text: string;
    try {
      text = fs.readFileSync(cfgPath, 'utf8');
    } catch (e) {
      throw new ConfigError(`invalid --config: cannot read ${cfgPath}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = yaml().parse(text);
    } catch (e) {
      throw new ConfigError(`invalid --config: ${cfgPath} is not valid YAML: ${(e as Error).message}`);
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
      throw new ConfigError(`invalid --config: ${cfgPath} must hold a mapping of option names to values`);
    }
    file = (doc ?? {}) as Record<string, unknown>;
    const keys = new Set(OPTIONS.map((o) => o.key as string));
    for (const k of Object.keys(file)) {
      if (!keys.has(k)) throw new ConfigError(`invalid --config: unknown key '${k}' in ${cfgPath}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const def of OPTIONS) {
    let raw: Raw | null = null;
    const fromFlag = flags.get(def.flag);
    if (fromFlag) raw = { value: def.type === 'labels' ? fromFlag : fromFlag.at(-1), from: 'flag' };
    else {
      const envName = def.env.find((e) => env[e] !== undefined && env[e] !== '');
      if (envName) raw = { value: env[envName], from: `env ${envName}` };
      else if (file[def.key] !== undefined) raw = { value: file[def.key], from: `config file ${cfgPath}` };
    }
    out[def.key] = raw ? convert(def, raw) : def.default;
  }
  const cfg = out as unknown as MesherConfig;
  // ServiceComb Mesher names the app port in SERVICE_PORTS=http:8080[,rest:8081].
  if (cfg.appPort === null && env.SERVICE_PORTS) {
    const m = /(?:^|,)\s*(?:http|rest):(\d+)/.exec(env.SERVICE_PORTS);
    if (!m) throw new ConfigError(`invalid SERVICE_PORTS: ${JSON.stringify(env.SERVICE_PORTS)} (expected http:<port>)`);
    cfg.appPort = convert(OPTIONS.find((o) => o.key === 'appPort')!, { value: m[1], from: 'env SERVICE_PORTS' }) as number;
  }
  return validate(cfg);
}

function isLoopback(addr: string): boolean {
  return addr === 'localhost' || addr.startsWith('127.') || addr === '::1';
}

function validate(cfg: MesherConfig): MesherConfig {
  if (cfg.serviceName !== null && !NAME_RE.test(cfg.serviceName)) {
    throw new ConfigError(`invalid --service-name: ${JSON.stringify(cfg.serviceName)} must be lower-case letters, digits, '-', '_' or '.' (max 63)`);
  }
  if (!isLoopback(cfg.adminAddress) && !cfg.adminToken) {
    throw new ConfigError(`refusing to bind the admin API to ${cfg.adminAddress} without --admin-token (MESHER_ADMIN_TOKEN)`);
  }
  if (cfg.adminViewerToken !== null && !cfg.adminToken) {
    throw new ConfigError('invalid --admin-viewer-token: needs --admin-token (without it the admin API is open to everyone)');
  }
  if (cfg.adminViewerToken !== null && cfg.adminViewerToken === cfg.adminToken) {
    throw new ConfigError('invalid --admin-viewer-token: must differ from --admin-token');
  }
  if (cfg.adminBodyLimit < 1024) throw new ConfigError('invalid --admin-body-limit: must be at least 1k');
  if (cfg.appPort !== null && cfg.appPort === 0) throw new ConfigError('invalid --app-port: 0 is not the port of an app');
  if (cfg.appPort !== null && !cfg.serviceName) throw new ConfigError('invalid --app-port: a local app needs --service-name to be registered under');
  if (cfg.inboundPort !== null && cfg.appPort === null) throw new ConfigError('invalid --inbound-port: the inbound listener needs --app-port to forward to');
  if (cfg.appPort !== null && cfg.inboundPort === null) cfg.inboundPort = 30103;
  if (cfg.heartbeatIntervalMs < 100) throw new ConfigError('invalid --heartbeat-interval: must be at least 100ms');
  if (cfg.instanceTtlSeconds * 1000 <= cfg.heartbeatIntervalMs) {
    throw new ConfigError(`invalid --instance-ttl: ${cfg.instanceTtlSeconds}s must be longer than --heartbeat-interval (${cfg.heartbeatIntervalMs}ms)`);
  }
  if (cfg.appHealthCheck !== null && cfg.appHealthCheck !== 'tcp' && !cfg.appHealthCheck.startsWith('/')) {
    throw new ConfigError(`invalid --app-health-check: ${JSON.stringify(cfg.appHealthCheck)} must be an HTTP path starting with '/' or 'tcp'`);
  }
  if (cfg.maxHeaderSize < 1024) throw new ConfigError('invalid --max-header-size: must be at least 1k');
  if (cfg.maxHeaderCount < 1) throw new ConfigError('invalid --max-header-count: must be at least 1');
  if (cfg.maxUrlLength < 16) throw new ConfigError('invalid --max-url-length: must be at least 16');
  if (cfg.headersTimeoutMs < 100) throw new ConfigError('invalid --headers-timeout: must be at least 100ms');
  if (cfg.requestBodyTimeoutMs > 0 && cfg.requestBodyTimeoutMs < 100) throw new ConfigError('invalid --request-body-timeout: must be 0 (off) or at least 100ms');
  if (cfg.inboundTimeoutMs > 0 && cfg.inboundTimeoutMs < 100) throw new ConfigError('invalid --inbound-timeout: must be 0 (none) or at least 100ms');
  if (cfg.overloadHeapPercent > 100) throw new ConfigError('invalid --overload-heap-percent: must be 0 (off) to 100');
  if (cfg.registry === 'etcd' && cfg.etcdEndpoints.length === 0) throw new ConfigError('invalid --etcd-endpoints: --registry etcd needs at least one endpoint');
  validateTls(cfg);
  etcdCredentials(cfg); // reads the TLS and password files now, so a bad one stops start-up naming its option
  return cfg;
}

export const MESH_TLS_LABELS: TlsLabels = { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' };
/** The admin API takes no CA (it asks for no client certificates): its `ca` label is never shown. */
export const ADMIN_TLS_LABELS: TlsLabels = { cert: '--admin-tls-cert', key: '--admin-tls-key', ca: '(none)' };

export const EDGE_TLS_LABELS: TlsLabels = { cert: '--edge-tls-cert', key: '--edge-tls-key', ca: '(none)' };

/** Combinations first, then the files themselves (readable, PEM, key of the certificate). */
function validateTls(cfg: MesherConfig): void {
  if (cfg.tlsCert !== null && cfg.tlsKey === null) throw new ConfigError('invalid --tls-cert: needs --tls-key (its private key)');
  if (cfg.tlsKey !== null && cfg.tlsCert === null) throw new ConfigError('invalid --tls-key: needs --tls-cert (the certificate it belongs to)');
  if (cfg.inboundTls !== 'off') {
    if (cfg.appPort === null) throw new ConfigError(`invalid --inbound-tls: '${cfg.inboundTls}' needs an inbound listener (--app-port)`);
    if (cfg.tlsCert === null) throw new ConfigError(`invalid --inbound-tls: '${cfg.inboundTls}' needs --tls-cert and --tls-key`);
    if (cfg.inboundTls === 'mtls' && cfg.tlsCa === null) throw new ConfigError("invalid --inbound-tls: 'mtls' needs --tls-ca to verify client certificates");
  }
  if (cfg.adminTlsCert !== null && cfg.adminTlsKey === null) throw new ConfigError('invalid --admin-tls-cert: needs --admin-tls-key (its private key)');
  if (cfg.adminTlsKey !== null && cfg.adminTlsCert === null) throw new ConfigError('invalid --admin-tls-key: needs --admin-tls-cert (the certificate it belongs to)');
  if (cfg.edgeTlsCert !== null && cfg.edgeTlsKey === null) throw new ConfigError('invalid --edge-tls-cert: needs --edge-tls-key (its private key)');
  if (cfg.edgeTlsKey !== null && cfg.edgeTlsCert === null) throw new ConfigError('invalid --edge-tls-key: needs --edge-tls-cert (the certificate it belongs to)');
  if (cfg.edgeTlsCert !== null && cfg.mode !== 'edge') throw new ConfigError("invalid --edge-tls-cert: there is no edge listener without --mode edge");
  try {
    loadTlsMaterial({ cert: cfg.tlsCert, key: cfg.tlsKey, ca: cfg.tlsCa }, MESH_TLS_LABELS);
    loadTlsMaterial({ cert: cfg.adminTlsCert, key: cfg.adminTlsKey, ca: null }, ADMIN_TLS_LABELS);
    loadTlsMaterial({ cert: cfg.edgeTlsCert, key: cfg.edgeTlsKey, ca: null }, EDGE_TLS_LABELS);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

export function helpText(): string {
  const lines = [
    'Usage: mesher start [options]',
    '',
    'Mesher: a lightweight L7 sidecar. Options (flag, environment, default):',
    '',
  ];
  for (const o of OPTIONS) {
    const def = o.default === null ? '' : ` (default: ${typeof o.default === 'object' ? JSON.stringify(o.default) : String(o.default)})`;
    lines.push(`  ${o.flag.padEnd(24)} ${o.env.join(', ').padEnd(34)} ${o.help}${def}`);
  }
  lines.push('', 'Precedence: flags > environment > --config file > defaults.');
  return lines.join('\n');
}
