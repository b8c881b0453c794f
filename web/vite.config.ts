import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';
import { dashboardConfigFromEnv } from './server.js';

// `npm run build:web` (dist/web, served by `npm start` on DASHBOARD_PORT) and `npm run dev:web`
// (hot reload). The dev server proxies to the api and the gateway as the built one does.
const api = `http://127.0.0.1:${process.env.API_PORT ?? 3000}`;
const gateway = `http://127.0.0.1:${process.env.GATEWAY_PORT ?? 8787}`;

/** `/config.json` in dev, as web/server.ts answers it. */
const devConfig = (): Plugin => ({
  name: 'webhost-dev-config',
  configureServer(server) {
    server.middlewares.use('/config.json', (_req, res) => {
      const hasClerk = Boolean(process.env.CLERK_JWT_KEY || process.env.CLERK_SECRET_KEY);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(dashboardConfigFromEnv(process.env, hasClerk ? 'clerk' : 'local')));
    });
  },
});

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), tailwindcss(), devConfig()],
  build: { outDir: '../dist/web', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 600 },
  server: {
    port: Number(process.env.DASHBOARD_PORT ?? 5173),
    strictPort: true,
    proxy: {
      '/v1': api,
      '/auth': api,
      '/gateway/v1': { target: gateway, rewrite: (p) => p.replace(/^\/gateway/, '') },
    },
  },
});
