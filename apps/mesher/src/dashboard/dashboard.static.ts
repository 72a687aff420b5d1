import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The repository root, from the compiled file (dist/apps/mesher/src/dashboard) or the source (apps/mesher/src/dashboard). */
const fourUp = path.resolve(__dirname, '../../../..');
const REPO_ROOT = path.basename(fourUp) === 'dist' ? path.dirname(fourUp) : fourUp;

/** Where Vite writes the dashboard (`npm run build:web`). */
export const DASHBOARD_DIR = path.join(REPO_ROOT, 'web', 'dist');

const NOT_BUILT =
  'The Mesher dashboard is not built: run `npm run build` (or `npm run build:web`) in the repository, then reload.\n' +
  'The admin API is available meanwhile under /v1, health under /health, API docs under /docs.\n';

// The page talks only to this origin; inline styles are allowed for the SVG charts' computed attributes.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * Serves the built dashboard on the admin server: `/` (index.html) and `/assets/*` (hashed bundles), nothing else,
 * so /v1, /health, /docs and /metrics are never shadowed. index.html is looked up per request, so a dashboard built
 * after start-up is served without a restart, and a missing build answers a clear message instead of failing.
 */
export async function registerDashboard(fastify: FastifyInstance, dir: string = DASHBOARD_DIR): Promise<void> {
  await fastify.register(fastifyStatic, {
    root: path.join(dir, 'assets'),
    prefix: '/assets/',
    // Vite puts a content hash in every asset name: safe to cache for good.
    maxAge: '365d',
    immutable: true,
    suppressWarning: true,
    decorateReply: true,
  });
  fastify.get('/', (_req, reply) => {
    if (!existsSync(path.join(dir, 'index.html'))) {
      return reply.code(503).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    }
    // index.html names the current hashed bundles: always revalidate it.
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .sendFile('index.html', dir, { cacheControl: false });
  });
}
