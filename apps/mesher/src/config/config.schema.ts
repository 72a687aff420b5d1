/** Every start-up option: one row each, so --help, env, mesher.yaml and validation cannot drift apart. */

export type OptionType = 'port' | 'host' | 'string' | 'path' | 'duration' | 'seconds' | 'bool' | 'labels' | 'enum' | 'url-list' | 'int' | 'bytes' | 'host-list';

export interface OptionDef {
  key: keyof MesherConfig;
  flag: string;
  env: string[];
  type: OptionType;
  default: unknown;
  help: string;
  choices?: readonly string[];
  /** Secrets are never echoed back in errors or logs. */
  secret?: boolean;
}

export interface MesherConfig {
  configFile: string | null;
  proxyPort: number;
  adminPort: number;
  listenAddress: string;
  adminAddress: string;
  dataDir: string;
  adminToken: string | null;
  adminViewerToken: string | null;
  adminBodyLimit: number;
  adminAllowedHosts: string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  accessLog: boolean;
  serviceName: string | null;
  serviceVersion: string;
  appId: string | null;
  appPort: number | null;
  appHost: string;
  inboundPort: number | null;
  inboundAddress: string;
  advertiseAddress: string | null;
  labels: Record<string, string>;
  heartbeatIntervalMs: number;
  instanceTtlSeconds: number;
  drainTimeoutMs: number;
  appHealthCheck: string | null;
  appHealthIntervalMs: number;
  meshSecret: string | null;
  trafficRetentionMs: number;
  meshFile: string | null;
  mode: 'sidecar' | 'edge';
  edgePort: number;
  edgeAddress: string;
  explain: 'off' | 'loopback' | 'always';
  registry: 'sqlite' | 'etcd';
  etcdEndpoints: string[];
  etcdCa: string | null;
  etcdCert: string | null;
  etcdKey: string | null;
  etcdUsername: string | null;
  etcdPassword: string | null;
  etcdPasswordFile: string | null;
  maxHeaderSize: number;
  maxHeaderCount: number;
  maxUrlLength: number;
  headersTimeoutMs: number;
  requestBodyTimeoutMs: number;
  inboundTimeoutMs: number;
  connectTimeoutMs: number;
  maxConnections: number;
  overloadEventLoopDelayMs: number;
  overloadHeapPercent: number;
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
  inboundTls: 'off' | 'tls' | 'mtls';
  adminTlsCert: string | null;
  adminTlsKey: string | null;
  edgeTlsCert: string | null;
  edgeTlsKey: string | null;
}

export const OPTIONS: readonly OptionDef[] = [
  { key: 'configFile', flag: '--config', env: ['MESHER_CONFIG'], type: 'path', default: null, help: 'mesher.yaml with any of these options (camelCase keys)' },
  { key: 'proxyPort', flag: '--proxy-port', env: ['MESHER_PROXY_PORT'], type: 'port', default: 30101, help: 'outbound proxy port (0 = a free port)' },
  { key: 'adminPort', flag: '--admin-port', env: ['MESHER_ADMIN_PORT'], type: 'port', default: 30102, help: 'admin API and dashboard port (0 = a free port)' },
  { key: 'listenAddress', flag: '--listen-address', env: ['MESHER_LISTEN_ADDRESS'], type: 'host', default: '127.0.0.1', help: 'address of the outbound proxy' },
  { key: 'adminAddress', flag: '--admin-address', env: ['MESHER_ADMIN_ADDRESS'], type: 'host', default: '127.0.0.1', help: 'address of the admin API (non-loopback needs --admin-token)' },
  { key: 'dataDir', flag: '--data-dir', env: ['MESHER_DATA_DIR'], type: 'path', default: './data', help: 'directory of the SQLite store (mesher.db)' },
  { key: 'adminToken', flag: '--admin-token', env: ['MESHER_ADMIN_TOKEN'], type: 'string', default: null, help: 'bearer token required on /v1 when set', secret: true },
  { key: 'adminViewerToken', flag: '--admin-viewer-token', env: ['MESHER_ADMIN_VIEWER_TOKEN'], type: 'string', default: null, help: 'read-only bearer token (GET and HEAD on /v1 only); needs --admin-token', secret: true },
  { key: 'adminBodyLimit', flag: '--admin-body-limit', env: ['MESHER_ADMIN_BODY_LIMIT'], type: 'bytes', default: 1_048_576, help: 'largest admin request body, e.g. 512k, 1m; 413 beyond' },
  { key: 'adminAllowedHosts', flag: '--admin-allowed-hosts', env: ['MESHER_ADMIN_ALLOWED_HOSTS'], type: 'host-list', default: [], help: 'host names the admin API answers to besides localhost and its own address (DNS rebinding guard), comma-separated' },
  { key: 'logLevel', flag: '--log-level', env: ['MESHER_LOG_LEVEL'], type: 'enum', default: 'info', choices: ['debug', 'info', 'warn', 'error', 'silent'], help: 'log level' },
  { key: 'accessLog', flag: '--access-log', env: ['MESHER_ACCESS_LOG'], type: 'bool', default: false, help: 'one JSON line per proxied request on stdout' },
  { key: 'serviceName', flag: '--service-name', env: ['MESHER_SERVICE_NAME', 'SERVICE_NAME'], type: 'string', default: null, help: 'name of the local app: registers it and names it as x-mesher-source' },
  { key: 'serviceVersion', flag: '--service-version', env: ['MESHER_SERVICE_VERSION', 'VERSION'], type: 'string', default: '0.0.1', help: 'version of the local app' },
  { key: 'appId', flag: '--app-id', env: ['MESHER_APP_ID', 'APP_ID'], type: 'string', default: null, help: 'application id (ServiceComb app)' },
  { key: 'appPort', flag: '--app-port', env: ['MESHER_APP_PORT'], type: 'port', default: null, help: 'port of the local app (also SERVICE_PORTS=http:8080)' },
  { key: 'appHost', flag: '--app-host', env: ['MESHER_APP_HOST'], type: 'host', default: '127.0.0.1', help: 'host of the local app' },
  { key: 'inboundPort', flag: '--inbound-port', env: ['MESHER_INBOUND_PORT'], type: 'port', default: null, help: 'inbound listener port, on with --app-port (default 30103; 0 = a free port)' },
  { key: 'inboundAddress', flag: '--inbound-address', env: ['MESHER_INBOUND_ADDRESS'], type: 'host', default: '127.0.0.1', help: 'address of the inbound listener' },
  { key: 'advertiseAddress', flag: '--advertise-address', env: ['MESHER_ADVERTISE_ADDRESS'], type: 'host', default: null, help: 'address other Meshers use to reach the inbound listener (default: inbound address)' },
  { key: 'labels', flag: '--label', env: ['MESHER_LABELS'], type: 'labels', default: {}, help: 'instance label k=v (repeatable; env: comma-separated)' },
  { key: 'heartbeatIntervalMs', flag: '--heartbeat-interval', env: ['MESHER_HEARTBEAT_INTERVAL'], type: 'duration', default: 5000, help: 'heartbeat interval (e.g. 5s, 500ms)' },
  { key: 'instanceTtlSeconds', flag: '--instance-ttl', env: ['MESHER_INSTANCE_TTL'], type: 'seconds', default: 15, help: 'instance leaves routing this long after its last heartbeat (e.g. 15s)' },
  { key: 'drainTimeoutMs', flag: '--drain-timeout', env: ['MESHER_DRAIN_TIMEOUT'], type: 'duration', default: 10000, help: 'longest wait for in-flight requests on shutdown' },
  { key: 'appHealthCheck', flag: '--app-health-check', env: ['MESHER_APP_HEALTH_CHECK'], type: 'string', default: null, help: "local app check: an HTTP path (e.g. /health) or 'tcp'" },
  { key: 'appHealthIntervalMs', flag: '--app-health-interval', env: ['MESHER_APP_HEALTH_INTERVAL'], type: 'duration', default: 2000, help: 'local app check interval' },
  { key: 'meshSecret', flag: '--mesh-secret', env: ['MESHER_MESH_SECRET'], type: 'string', default: null, help: 'shared secret that proves a caller is a Mesher (trust of x-mesher-source)', secret: true },
  { key: 'trafficRetentionMs', flag: '--traffic-retention', env: ['MESHER_TRAFFIC_RETENTION'], type: 'duration', default: 86_400_000, help: 'how long per-minute traffic history is kept (e.g. 24h)' },
  { key: 'explain', flag: '--explain', env: ['MESHER_EXPLAIN'], type: 'enum', default: 'loopback', choices: ['off', 'loopback', 'always'], help: 'who may ask for a decision explanation with x-mesher-explain: 1' },
  { key: 'meshFile', flag: '--config-file', env: ['MESHER_CONFIG_FILE'], type: 'path', default: null, help: 'declarative mesh configuration (services, routes, policies) applied at start-up' },
  { key: 'mode', flag: '--mode', env: ['MESHER_MODE'], type: 'enum', default: 'sidecar', choices: ['sidecar', 'edge'], help: 'sidecar, or edge: an ingress gateway in front of the mesh' },
  { key: 'edgePort', flag: '--edge-port', env: ['MESHER_EDGE_PORT'], type: 'port', default: 30100, help: 'edge listener port in --mode edge (0 = a free port)' },
  { key: 'edgeAddress', flag: '--edge-address', env: ['MESHER_EDGE_ADDRESS'], type: 'host', default: '0.0.0.0', help: 'edge listener address (outside clients reach it)' },
  { key: 'registry', flag: '--registry', env: ['MESHER_REGISTRY'], type: 'enum', default: 'sqlite', choices: ['sqlite', 'etcd'], help: 'registry store' },
  { key: 'etcdEndpoints', flag: '--etcd-endpoints', env: ['MESHER_ETCD_ENDPOINTS'], type: 'url-list', default: [], help: 'etcd endpoints, comma-separated' },
  { key: 'etcdCa', flag: '--etcd-ca', env: ['MESHER_ETCD_CA'], type: 'path', default: null, help: "CA certificate (PEM file) etcd's server certificate must be signed by (https:// endpoints; default: the system CAs)" },
  { key: 'etcdCert', flag: '--etcd-cert', env: ['MESHER_ETCD_CERT'], type: 'path', default: null, help: 'client certificate (PEM file) for an etcd with --client-cert-auth; needs --etcd-key' },
  { key: 'etcdKey', flag: '--etcd-key', env: ['MESHER_ETCD_KEY'], type: 'path', default: null, help: 'private key (PEM file) of --etcd-cert' },
  { key: 'etcdUsername', flag: '--etcd-username', env: ['MESHER_ETCD_USERNAME'], type: 'string', default: null, help: 'etcd user (etcd with auth enabled); needs a password' },
  { key: 'etcdPassword', flag: '--etcd-password', env: ['MESHER_ETCD_PASSWORD'], type: 'string', default: null, help: 'password of --etcd-username (a flag shows in the process list: prefer the env var or --etcd-password-file)', secret: true },
  { key: 'etcdPasswordFile', flag: '--etcd-password-file', env: ['MESHER_ETCD_PASSWORD_FILE'], type: 'path', default: null, help: 'file holding the password of --etcd-username (e.g. a mounted secret; one trailing newline is ignored)' },
  { key: 'maxHeaderSize', flag: '--max-header-size', env: ['MESHER_MAX_HEADER_SIZE'], type: 'bytes', default: 32_768, help: 'largest request head (request line and headers) on the proxy listeners, e.g. 32k; 431 beyond' },
  { key: 'maxHeaderCount', flag: '--max-header-count', env: ['MESHER_MAX_HEADER_COUNT'], type: 'int', default: 100, help: 'most header fields in one request; 431 beyond' },
  { key: 'maxUrlLength', flag: '--max-url-length', env: ['MESHER_MAX_URL_LENGTH'], type: 'bytes', default: 8192, help: 'longest request target (URL); 414 beyond' },
  { key: 'headersTimeoutMs', flag: '--headers-timeout', env: ['MESHER_HEADERS_TIMEOUT'], type: 'duration', default: 20_000, help: 'a request head must arrive within this long (slowloris); 408 beyond' },
  { key: 'requestBodyTimeoutMs', flag: '--request-body-timeout', env: ['MESHER_REQUEST_BODY_TIMEOUT'], type: 'duration', default: 30_000, help: 'a request body that stalls this long between bytes gets 408 and its upstream request is cut; 0 = off' },
  { key: 'inboundTimeoutMs', flag: '--inbound-timeout', env: ['MESHER_INBOUND_TIMEOUT'], type: 'duration', default: 60_000, help: "inbound listener: deadline for the local app's response head, 504 beyond (outbound: the policy's timeout.requestMs); 0 = none" },
  { key: 'connectTimeoutMs', flag: '--connect-timeout', env: ['MESHER_CONNECT_TIMEOUT'], type: 'duration', default: 5000, help: 'longest wait for a TCP connect to an upstream instance or the local app; 0 = none' },
  { key: 'maxConnections', flag: '--max-connections', env: ['MESHER_MAX_CONNECTIONS'], type: 'int', default: 10_000, help: 'open connections per proxy listener; more are refused and counted; 0 = no limit' },
  { key: 'overloadEventLoopDelayMs', flag: '--overload-event-loop-delay', env: ['MESHER_OVERLOAD_EVENT_LOOP_DELAY'], type: 'duration', default: 0, help: 'shed requests (503 OVERLOADED) while the event loop runs this late, e.g. 500ms; 0 = off' },
  { key: 'overloadHeapPercent', flag: '--overload-heap-percent', env: ['MESHER_OVERLOAD_HEAP_PERCENT'], type: 'int', default: 95, help: 'shed requests (503 OVERLOADED) while the V8 heap is this full (percent of its limit); 0 = off' },
  { key: 'tlsCert', flag: '--tls-cert', env: ['MESHER_TLS_CERT'], type: 'path', default: null, help: "this sidecar's mesh certificate (PEM; DNS SAN = --service-name), served by a TLS inbound listener and presented to TLS instances; reloaded when it changes" },
  { key: 'tlsKey', flag: '--tls-key', env: ['MESHER_TLS_KEY'], type: 'path', default: null, help: 'private key of --tls-cert (PEM)' },
  { key: 'tlsCa', flag: '--tls-ca', env: ['MESHER_TLS_CA'], type: 'path', default: null, help: 'mesh CA bundle (PEM): verifies https:// sidecar instances and, with --inbound-tls mtls, client certificates' },
  { key: 'inboundTls', flag: '--inbound-tls', env: ['MESHER_INBOUND_TLS'], type: 'enum', default: 'off', choices: ['off', 'tls', 'mtls'], help: 'inbound listener over TLS (registers an https:// endpoint); mtls also requires a client certificate from --tls-ca' },
  { key: 'adminTlsCert', flag: '--admin-tls-cert', env: ['MESHER_ADMIN_TLS_CERT'], type: 'path', default: null, help: 'serve the admin API, health and dashboard over HTTPS with this certificate (PEM); reloaded when it changes' },
  { key: 'adminTlsKey', flag: '--admin-tls-key', env: ['MESHER_ADMIN_TLS_KEY'], type: 'path', default: null, help: 'private key of --admin-tls-cert (PEM)' },
  { key: 'edgeTlsCert', flag: '--edge-tls-cert', env: ['MESHER_EDGE_TLS_CERT'], type: 'path', default: null, help: "in --mode edge, serve the edge listener over HTTPS with this certificate (PEM: the public names clients reach); reloaded when it changes" },
  { key: 'edgeTlsKey', flag: '--edge-tls-key', env: ['MESHER_EDGE_TLS_KEY'], type: 'path', default: null, help: 'private key of --edge-tls-cert (PEM)' },
];
