import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';
import type { MesherConfig } from './config/config.schema';
import { ProxyService } from './proxy/proxy.service';
import { REGISTRY_STORE } from './tokens';
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

export interface RunningMesher {
  app: NestFastifyApplication;
  proxy: AddressInfo;
  admin: AddressInfo;
  inbound: AddressInfo | null;
  /** Drains the data plane, then closes admin and store. */
  stop(): Promise<void>;
}

/** Boots one Mesher: store + snapshot, data-plane listeners, then the admin API. */
export async function startMesher(cfg: MesherConfig): Promise<RunningMesher> {
  Logger.overrideLogger(LEVELS[cfg.logLevel]);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(cfg),
    new FastifyAdapter({ bodyLimit: 1024 * 1024 }),
    { logger: LEVELS[cfg.logLevel], abortOnError: false },
  );
  // ServiceComb routeRule files arrive as YAML; the controller parses them.
  app
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'], { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
  const docs = SwaggerModule.createDocument(
    app,
    new DocumentBuilder().setTitle('Mesher admin API').setVersion(MESHER_VERSION).addBearerAuth().build(),
  );
  SwaggerModule.setup('docs', app, docs, { jsonDocumentUrl: 'docs-json' });
  await app.init();
  const proxySvc = app.get(ProxyService);
  const { outbound, inbound } = await proxySvc.start();
  await app.listen(cfg.adminPort, cfg.adminAddress);
  const admin = app.getHttpServer().address() as AddressInfo;
  let stopping: Promise<void> | null = null;
  return {
    app,
    proxy: outbound,
    admin,
    inbound,
    stop() {
      stopping ??= (async () => {
        await proxySvc.stop(cfg.drainTimeoutMs);
        await app.close();
        await app.get<RegistryStore>(REGISTRY_STORE).close();
      })();
      return stopping;
    },
  };
}
