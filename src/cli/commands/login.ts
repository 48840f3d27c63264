import { login, logout, staticCredentialStore } from '../../oci/credentials.ts';
import { parseRepository } from '../../oci/reference.ts';
import type { Command } from '../command.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';

interface LoginArgs {
  server: string;
  username?: string;
  password?: string;
  'password-stdin'?: boolean;
}

/** `docker login` accepts `https://host/v1/` and plain hosts alike; keep the host. */
function serverHost(server: string): string {
  const host = server.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  return parseRepository(`${host}/probe`).registry;
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  // As docker: strip one trailing newline (echo adds it) but keep other whitespace.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export const loginCommand: Command = {
  register: (y, run) =>
    y.command(
      'login <server>',
      'Log in to a registry and store the credentials as docker does',
      (c) =>
        c
          .positional('server', {
            type: 'string',
            demandOption: true,
            describe: 'registry host, e.g. ghcr.io or 127.0.0.1:5000',
          })
          .option('username', { alias: 'u', type: 'string', describe: 'user name' })
          .option('password', {
            alias: 'p',
            type: 'string',
            describe: 'password (visible in ps and shell history: prefer --password-stdin)',
          })
          .option('password-stdin', { type: 'boolean', describe: 'read the password from standard input' })
          .conflicts('password', 'password-stdin')
          .example('echo "$TOKEN" | $0 login ghcr.io -u me --password-stdin', 'log in from CI'),
      (argv) =>
        run<LoginArgs>(argv, async (ctx, a) => {
          const host = serverHost(a.server);
          if (!a.username) throw new UsageError('login needs --username (-u)');
          let password = a.password;
          if (a['password-stdin']) password = await readStdin(ctx.io.stdin);
          if (password === undefined || password === '') {
            throw new UsageError('login needs a password: --password-stdin (recommended) or --password');
          }
          if (a.password !== undefined)
            ctx.out.info('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
          const credential = { username: a.username, password };
          // Check the credentials before storing them, as docker login does.
          const { Registry } = await import('../../oci/registry/client.ts');
          const probe = new Registry(host, {
            ...ctx.registry,
            credentials: staticCredentialStore({ [host]: credential }),
          });
          await probe.ping();
          const where = await login(host, credential, { env: ctx.io.env });
          ctx.out.info(`Login Succeeded (credentials stored in ${where})`);
          ctx.out.result({ registry: host, stored: where }, '');
          return ExitCode.Ok;
        }),
    ),
};

export const logoutCommand: Command = {
  register: (y, run) =>
    y.command(
      'logout <server>',
      'Remove stored credentials for a registry',
      (c) => c.positional('server', { type: 'string', demandOption: true }),
      (argv) =>
        run<{ server: string }>(argv, async (ctx, a) => {
          const host = serverHost(a.server);
          const removed = await logout(host, { env: ctx.io.env });
          ctx.out.info(removed ? `Removing login credentials for ${host}` : `Not logged in to ${host}`);
          ctx.out.result({ registry: host, removed }, '');
          return ExitCode.Ok;
        }),
    ),
};
