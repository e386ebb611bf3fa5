import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by `attune serve` under /app/; everything is bundled, so the page asks nothing of any other host.
export default defineConfig({
  root: import.meta.dirname,
  base: '/app/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, sourcemap: false },
});
