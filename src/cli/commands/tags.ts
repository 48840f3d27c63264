import { parseRepository } from '../../oci/reference.ts';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

export const tagsCommand: Command = {
  register: (y, run) =>
    y.command(
      'tags <repository>',
      'List the tags of a repository',
      (c) =>
        c
          .positional('repository', {
            type: 'string',
            demandOption: true,
            describe: 'registry/repository, e.g. ghcr.io/org/app',
          })
          .example('$0 tags 127.0.0.1:5000/app', 'one tag a line')
          .example('$0 tags -o json ghcr.io/org/app', 'a JSON array'),
      (argv) =>
        run<{ repository: string }>(argv, async (ctx, a) => {
          const { registryFor } = await import('../../oci/registry/client.ts');
          const repo = parseRepository(a.repository);
          const registry = registryFor(repo.registry, ctx.registry);
          const tags: string[] = [];
          for await (const tag of registry.listTags(repo.repository, { signal: ctx.signal })) tags.push(tag);
          ctx.out.result(tags, tags.join('\n'));
          return ExitCode.Ok;
        }),
    ),
};
