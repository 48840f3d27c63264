import type { Argv } from 'yargs';
import type { ContentSource } from '../../oci/content.ts';
import { readBlob, resolveImage } from '../../oci/image.ts';
import { parseManifest } from '../../oci/manifest.ts';
import { openSource } from '../../oci/source.ts';
import type { Command } from '../command.ts';
import { type Context, platformOption } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';

interface ImageArgs {
  image: string;
  platform?: string;
}

const SOURCE_HELP =
  'image: a registry reference (registry:REF or bare), oci-dir:PATH[:NAME], oci-archive:PATH[:NAME] or docker-archive:PATH[:NAME]';

function imageArgs<T>(y: Argv<T>) {
  return y
    .positional('image', { type: 'string', demandOption: true, describe: SOURCE_HELP })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from a multi-platform image' });
}

async function withSource<R>(ctx: Context, spec: string, fn: (src: ContentSource) => Promise<R>): Promise<R> {
  const src = await openSource(spec, ctx.registry);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}

export const digestCommand: Command = {
  register: (y, run) =>
    y.command(
      'digest <image>',
      'Print the digest of an image (of its index, for a multi-platform image without --platform)',
      (c) =>
        imageArgs(c)
          .example('$0 digest alpine:3.20', 'index digest of a multi-platform image')
          .example('$0 digest --platform linux/arm64 alpine:3.20', 'digest of one platform')
          .example('$0 digest oci-dir:./layout:app', 'digest of an image in an OCI layout'),
      (argv) =>
        run<ImageArgs>(argv, async (ctx, a) =>
          withSource(ctx, a.image, async (src) => {
            const platform = platformOption(a.platform);
            const root = await src.resolveRoot(ctx.signal);
            let desc = root.descriptor;
            if (platform) desc = (await resolveImage(src, { platform, signal: ctx.signal })).manifestBlob.descriptor;
            ctx.out.result(desc, desc.digest);
            return ExitCode.Ok;
          }),
        ),
    ),
};

export const manifestCommand: Command = {
  register: (y, run) =>
    y.command(
      'manifest <image>',
      'Print the manifest (or index) of an image',
      (c) =>
        imageArgs(c)
          .option('raw', { type: 'boolean', default: false, describe: 'print the exact bytes the digest covers' })
          .example('$0 manifest --raw 127.0.0.1:5000/app:1.0 | sha256sum', 'check the digest by hand'),
      (argv) =>
        run<ImageArgs & { raw: boolean }>(argv, async (ctx, a) =>
          withSource(ctx, a.image, async (src) => {
            const platform = platformOption(a.platform);
            const blob = platform
              ? (await resolveImage(src, { platform, signal: ctx.signal })).manifestBlob
              : await src.resolveRoot(ctx.signal);
            if (a.raw) {
              ctx.out.raw(blob.bytes);
              return ExitCode.Ok;
            }
            parseManifest(blob.bytes, blob.descriptor.mediaType, src.description);
            const doc = JSON.parse(new TextDecoder().decode(blob.bytes)) as unknown;
            ctx.out.result(
              ctx.out.format === 'json' ? { descriptor: blob.descriptor, manifest: doc } : doc,
              JSON.stringify(doc, null, 2),
            );
            return ExitCode.Ok;
          }),
        ),
    ),
};

/** Configs are kilobytes; anything near this is broken or hostile. */
const CONFIG_LIMIT = 8 * 1024 * 1024;

export const configCommand: Command = {
  register: (y, run) =>
    y.command(
      'config <image>',
      'Print the config blob of an image (of --platform, default linux/amd64, for a multi-platform image)',
      (c) => imageArgs(c).option('raw', { type: 'boolean', default: false, describe: 'print the exact bytes' }),
      (argv) =>
        run<ImageArgs & { raw: boolean }>(argv, async (ctx, a) =>
          withSource(ctx, a.image, async (src) => {
            const platform = platformOption(a.platform);
            const image = await resolveImage(src, { ...(platform ? { platform } : {}), signal: ctx.signal });
            const bytes = await readBlob(src, image.manifest.config, CONFIG_LIMIT, ctx.signal);
            if (a.raw) ctx.out.raw(bytes);
            else {
              const doc = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
              ctx.out.result(doc, JSON.stringify(doc, null, 2));
            }
            return ExitCode.Ok;
          }),
        ),
    ),
};
