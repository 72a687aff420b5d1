import { defineConfig } from 'vite';

// Everything is bundled into web/dist (index.html + hashed files under assets/), served by the admin server.
export default defineConfig({
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  // `npx vite web` for development: the admin API of a Mesher on the default port answers the calls.
  server: {
    proxy: { '/v1': 'http://127.0.0.1:30102', '/health': 'http://127.0.0.1:30102' },
  },
});
