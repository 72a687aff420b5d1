import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AddressInfo } from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdminError } from '@mesher/contracts';
import { checkDatabaseFile } from '@mesher/persistence';
import { jsonBodyParser } from './admin/json-body.parser';
import { loadTlsMaterial, TlsFileWatcher } from '@mesher/proxy-core';
import type { Server as HttpsServer } from 'node:https';
import { registerAdminRequestChecks } from './admin/admin-request.hook';
import { parseYamlBody } from './admin/route-rule-yaml';
import { AppModule } from './app.module';
import { ConfigService } from './config-as-code/config.service';
import type { MesherConfig } from './config/config.schema';
import { ADMIN_TLS_LABELS } from './config/load-config';
import { registerDashboard } from './dashboard/dashboard.static';
import { ProxyService } from './proxy/proxy.service';
import { AppHealthService } from './sidecar/app-health.service';
import { RegistrationService } from './sidecar/registration.service';
import { REGISTRY_STORE } from './tokens';

/** How long a DRAINING status takes to reach consumers (they poll the shared store every 250 ms). */
const DRAIN_PROPAGATION_MS = 1000;
import type { RegistryStore } from '@mesher/persistence';
import { MESHER_VERSION } from './version';

const LEVELS: Record<MesherConfig['logLevel'], LogLevel[]> = {
  debug: ['debug', 'log', 'warn', 'error', 'fatal'],
  // Nest's 'log' level is its start-up chatter (every mapped route): shown at debug only.
  info: ['warn', 'error', 'fatal'],
  warn: ['warn', 'error', 'fatal'],
  error: ['error', 'fatal'],
  silent: [],
};

/** --config-file: the mesh kept in git, applied (all or nothing) before any listener opens. */
async function applyMeshFile(config: ConfigService, file: string): Promise<void> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--config-file ${file}: ${(e as Error).message}`);
  }
  try {
    await config.apply(parseYamlBody(text), 'config-file', { dryRun: false });
  } catch (e) {
    const errors = e instanceof AdminError && e.errors.length ? `\n${e.errors.map((x) => `  ${x.field}: ${x.message}`).join('\n')}` : '';
    throw new Error(`--config-file ${file} is invalid: ${(e as Error).message.slice(0, 200)}${errors}`);
  }
}

export interface RunningMesher {
  app: NestFastifyApplication;
  proxy: AddressInfo;
  admin: AddressInfo;
  inbound: AddressInfo | null;
  edge: AddressInfo | null;
  /** Drains the data plane, then closes admin and store. */
  stop(): Promise<void>;
}

/** Boots one Mesher: store + snapshot, data-plane listeners, then the admin API. */
export async function startMesher(cfg: MesherConfig): Promise<RunningMesher> {
  Logger.overrideLogger(LEVELS[cfg.logLevel]);
  // A damaged store file is said in one clear line, before Nest would wrap it in a stack trace.
  checkDatabaseFile(path.join(cfg.dataDir, 'mesher.db'));
  const adminFiles = { cert: cfg.adminTlsCert, key: cfg.adminTlsKey, ca: null };
  const adminTls = cfg.adminTlsCert ? loadTlsMaterial(adminFiles, ADMIN_TLS_LABELS) : null;
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(cfg),
    // forceCloseConnections: open SSE streams must not hold up shutdown.
    new FastifyAdapter({
      bodyLimit: cfg.adminBodyLimit,
      forceCloseConnections: true,
      ...(adminTls ? { https: { cert: adminTls.cert!, key: adminTls.key! } } : {}),
    }),
    { logger: LEVELS[cfg.logLevel], abortOnError: false },
  );
  // Host (DNS rebinding), tokens in URLs and cross-origin writes are refused before any route, dashboard included.
  registerAdminRequestChecks(app.getHttpAdapter().getInstance(), cfg);
  // JSON bodies: Fastify's parser with errors that name a refused key (before Nest registers its default one).
  app.useBodyParser('application/json', { bodyLimit: cfg.adminBodyLimit }, jsonBodyParser(app.getHttpAdapter().getInstance()));
  // ServiceComb routeRule files arrive as YAML; the controller parses them.
  app
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'], { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
  // The OpenAPI document is built on the first /docs or /docs-json request: most Meshers never serve
  // it, and building it at start-up left its scan garbage in a grown young generation (idle RSS).
  const docs = () =>
    SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('Mesher admin API').setVersion(MESHER_VERSION).addBearerAuth().build());
  SwaggerModule.setup('docs', app, docs, { jsonDocumentUrl: 'docs-json' });
  await registerDashboard(app.getHttpAdapter().getInstance());
  await app.init();
  if (cfg.meshFile) await applyMeshFile(app.get(ConfigService), cfg.meshFile);
  const proxySvc = app.get(ProxyService);
  const { outbound, inbound, edge } = await proxySvc.start();
  await app.listen(cfg.adminPort, cfg.adminAddress);
  const admin = app.getHttpServer().address() as AddressInfo;
  // Admin certificate rotation, as for the mesh certificate: new connections get the new one.
  const adminWatcher = adminTls
    ? new TlsFileWatcher(
        adminFiles,
        ADMIN_TLS_LABELS,
        adminTls,
        (m) => (app.getHttpServer() as HttpsServer).setSecureContext({ cert: m.cert!, key: m.key! }),
        (message) => new Logger('admin').error(`admin TLS files changed but cannot be used, keeping the previous ones: ${message}`),
      )
    : null;
  adminWatcher?.start();
  const registration = app.get(RegistrationService);
  const appHealth = app.get(AppHealthService);
  if (inbound) await registration.start(inbound.address, inbound.port, await appHealth.start());
  let stopping: Promise<void> | null = null;
  return {
    app,
    proxy: outbound,
    admin,
    inbound,
    edge,
    stop() {
      stopping ??= (async () => {
        appHealth.stop();
        adminWatcher?.stop();
        if (inbound) {
          // Consumers stop picking a DRAINING instance once they see it (shared store: within a poll);
          // keep serving normally until then, so no request meets a closed port.
          await registration.setStatus('DRAINING').catch(() => undefined);
          await new Promise((r) => setTimeout(r, Math.min(DRAIN_PROPAGATION_MS, cfg.drainTimeoutMs)));
        }
        await proxySvc.stop(cfg.drainTimeoutMs);
        await registration.deregister();
        await app.close();
        await app.get<RegistryStore>(REGISTRY_STORE).close();
      })();
      return stopping;
    },
  };
}
