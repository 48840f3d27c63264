import { copyImage } from '../../oci/copy.ts';
import { openSource, openTarget } from '../../oci/source.ts';
import type { Command } from '../command.ts';
import { platformOption } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { CopyProgressLine, formatBytes } from '../progress.ts';

interface CopyArgs {
  source: string;
  destination: string;
  platform?: string;
  'all-platforms'?: boolean;
  jobs: number;
}

export const copyCommand: Command = {
  register: (y, run) =>
    y.command(
      ['copy <source> <destination>', 'cp'],
      'Copy an image, or a whole multi-platform index, with every blob, between registries, OCI layouts and archives',
      (c) =>
        c
          .positional('source', { type: 'string', demandOption: true, describe: 'where to read' })
          .positional('destination', { type: 'string', demandOption: true, describe: 'where to write' })
          .option('platform', { type: 'string', describe: 'platform to copy from an index (default linux/amd64)' })
          .option('all-platforms', {
            alias: 'a',
            type: 'boolean',
            describe: 'copy an index whole, every platform, keeping its digest',
          })
          .option('jobs', { alias: 'j', type: 'number', default: 6, describe: 'blobs copied at once' })
          .example('$0 copy ghcr.io/org/app:1.0 oci-dir:./app:1.0', 'registry to OCI layout')
          .example('$0 copy -a oci-archive:app.tar 127.0.0.1:5000/app:1.0', 'a multi-platform archive to a registry')
          .example('$0 copy 127.0.0.1:5000/app:1.0 docker-archive:app.tar:app:1.0', 'to a file `docker load` reads'),
      (argv) =>
        run<CopyArgs>(argv, async (ctx, a) => {
          const platform = platformOption(a.platform);
          const src = await openSource(a.source, ctx.registry);
          try {
            const dst = await openTarget(a.destination, ctx.registry);
            const progress = new CopyProgressLine(ctx.io.stderr, `Copying ${a.source}`);
            const started = performance.now();
            let result: Awaited<ReturnType<typeof copyImage>>;
            try {
              result = await copyImage(src, dst, {
                ...(platform ? { platform } : {}),
                allPlatforms: a['all-platforms'] ?? false,
                concurrency: a.jobs,
                signal: ctx.signal,
                onProgress: progress.update,
              });
            } finally {
              progress.finish();
            }
            const seconds = (performance.now() - started) / 1000;
            ctx.out.info(
              `Copied ${a.source} to ${a.destination}: ${result.blobs.copied} blobs (${formatBytes(result.blobs.bytesCopied)}) copied, ` +
                `${result.blobs.skipped} already present, ${result.manifests} manifests, ${seconds.toFixed(1)} s`,
            );
            ctx.out.result(result, result.digest);
            return ExitCode.Ok;
          } finally {
            await src.close();
          }
        }),
    ),
};
