import { runRecipe } from './recipe';

/**
 * Runs the recipe with settings from the environment, then logs replies until stopped:
 *
 *   PARLEY_URL=http://127.0.0.1:3000 PARLEY_ACCESS_TOKEN=... PARLEY_REFRESH_TOKEN=... \
 *   CONTACT_PHONE=+50212345678 npx tsx examples/partner-recipe/main.ts
 */
function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

const log = (line: string) => console.log(`[partner] ${line}`);

const running = await runRecipe({
  baseUrl: env('PARLEY_URL', 'http://127.0.0.1:3000'),
  accessToken: env('PARLEY_ACCESS_TOKEN'),
  refreshToken: env('PARLEY_REFRESH_TOKEN'),
  listen: { host: env('RECEIVER_HOST', '127.0.0.1'), port: Number(env('RECEIVER_PORT', '4000')) },
  ...(process.env.RECEIVER_PUBLIC_URL ? { publicUrl: process.env.RECEIVER_PUBLIC_URL } : {}),
  contact: { name: env('CONTACT_NAME', 'Ana'), telephone: env('CONTACT_PHONE') },
  fields: { licenseplate: env('LICENSE_PLATE', 'XX-99-WZ') },
  // The sandbox Graph API's `order_update`: "Order {{1}}" / "Hi {{1}}, your order is now {{2}}."
  template: {
    name: env('TEMPLATE_NAME', 'order_update'),
    language: env('TEMPLATE_LANGUAGE', 'en_US'),
    params: JSON.parse(env('TEMPLATE_PARAMS', '{"header":"#4521","1":"Ana","2":"ready for pickup"}')) as Record<string, string>,
  },
  log,
});
log('ready; waiting for replies (Ctrl-C to stop)');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.stop().then(() => process.exit(0));
  });
}
