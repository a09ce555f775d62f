/**
 * The `kumo` command: up, doctor, identity rotate-keys, version.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import type { ConfigFlags } from '../config.js';
import { KumoError } from '../errors.js';
import { createLogger } from '../log.js';
import { KeyRepository } from '../identity/key-repository.js';
import { hashPassword } from '../identity/password.js';
import { ensureAdminPassword, kumoPaths } from '../paths.js';
import { checkAccelerator, checkCapabilities, formatDoctorReport } from './doctor.js';

const USAGE = `Usage: kumo <command> [options]

Commands:
  up                      start the all-in-one cloud (API, controllers, local agent)
  doctor                  show which host capabilities are present and how to install the rest
  identity rotate-keys    rotate the fernet token keys (live tokens stay valid)
  version                 print the version

Options for up:
  --data-dir DIR          where state lives (default: /var/lib/kumo as root, else ~/.local/state/kumo)
  --listen HOST:PORT      where to serve every API (default: 127.0.0.1:5000)
  --public-url URL        the URL clients use, if not http://HOST:PORT
  --database-url URL      postgresql://... to use PostgreSQL instead of the embedded SQLite
  --log-level LEVEL       trace, debug, info, warn, error or silent (default: info)
  --token-expiration SEC  lifetime of new tokens in seconds (default: 3600)
  --agent auto|on|off     drive this host's networking (default auto: on when run as root)
  --host NAME             the host name ports are bound to (default: the system's host name)
  --physical-bridges MAP  physical networks on existing bridges, e.g. public:br-ex
  --container-runtime R   runc (default) or crun
  --accel A               VM accelerator: auto (default: KVM if a test guest boots with it), kvm or tcg
`;

const out = (text: string) => process.stdout.write(text);

function configFlags(argv: string[]): ConfigFlags {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      listen: { type: 'string' },
      'public-url': { type: 'string' },
      'database-url': { type: 'string' },
      'log-level': { type: 'string' },
      'token-expiration': { type: 'string' },
      agent: { type: 'string' },
      host: { type: 'string' },
      'physical-bridges': { type: 'string' },
      'container-runtime': { type: 'string' },
      accel: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  return {
    dataDir: values['data-dir'],
    listen: values.listen,
    publicUrl: values['public-url'],
    databaseUrl: values['database-url'],
    logLevel: values['log-level'],
    tokenExpiration: values['token-expiration'],
    agent: values.agent,
    host: values.host,
    physicalBridges: values['physical-bridges'],
    containerRuntime: values['container-runtime'],
    accel: values.accel,
  };
}

async function up(argv: string[]): Promise<void> {
  const config = loadConfig(configFlags(argv), process.env, process.getuid?.());
  const logger = createLogger({ level: config.logLevel });
  // On a first start, hash the generated admin password on the thread pool while the server's
  // modules load: loaded lazily below for that reason.
  const admin = ensureAdminPassword(config.dataDir);
  const adminPasswordHash = admin.created ? hashPassword(admin.value, config.identity.passwordHash) : undefined;
  adminPasswordHash?.catch(() => {});
  const { startKumo } = await import('../server.js');
  const kumo = await startKumo(config, logger, { adminPasswordHash });
  const elapsed = performance.now();
  out(
    [
      `Kumo is up in ${elapsed.toFixed(0)} ms`,
      `  identity:     ${config.publicUrl}/identity/v3`,
      `  data dir:     ${config.dataDir} (${config.database.kind})`,
      `  credentials:  ${kumo.paths.cloudsYaml} (cloud "kumo"), ${kumo.paths.openrc}`,
      `  try:          OS_CLIENT_CONFIG_FILE=${kumo.paths.cloudsYaml} openstack --os-cloud kumo token issue`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    kumo.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function rotateKeys(argv: string[]): void {
  const config = loadConfig(configFlags(argv), process.env, process.getuid?.());
  const repo = new KeyRepository(kumoPaths(config.dataDir).fernetKeysDir, config.identity.maxActiveKeys);
  const result = repo.rotate();
  out(`Rotated fernet keys in ${kumoPaths(config.dataDir).fernetKeysDir}: primary is now ${result.primary}, keys ${result.keys.join(', ')}${result.removed.length ? `, removed ${result.removed.join(', ')}` : ''}\n`);
}

/** The version in package.json, found by walking up from this file (it runs from dist/src/cli or bundled in dist/). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      await up(rest);
      return -1; // keeps running
    case 'doctor': {
      const caps = [...checkCapabilities(), await checkAccelerator()];
      out(formatDoctorReport(caps));
      return 0;
    }
    case 'identity':
      if (rest[0] === 'rotate-keys') {
        rotateKeys(rest.slice(1));
        return 0;
      }
      break;
    case 'version':
    case '--version':
      out(`kumo ${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 2 : 0;
  }
  process.stderr.write(`kumo: unknown command "${argv.join(' ')}"\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`kumo: ${err instanceof KumoError || (err as Error)?.message ? (err as Error).message : String(err)}\n`);
    process.exit(1);
  },
);
