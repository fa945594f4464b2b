import { defineConfig } from 'vite';

// Served by the API under /console (apps/api/src/http/console.ts), so asset URLs carry that base.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: { proxy: { '/v1': 'http://127.0.0.1:3000' } },
});
