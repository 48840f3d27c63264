import type { Attachment, AttachedLayer, AttachmentList } from '../../attach/discovery.ts';
import { isSigstoreBundleMediaType } from '../../attach/media-types.ts';
import type { Evidence, EvidenceKind, EvidenceSource } from './evidence.ts';
import { evidenceFromBundle } from './from-bundle.ts';
import { evidenceFromTagLayer } from './from-legacy.ts';

/**
 * Every signature and attestation among `listAttachments` output, in its order, as evidence:
 * bundle referrers read as stored; `.sig`/`.att` layers (and cosign's experimental legacy
 * referrers) converted. SBOMs and other referrers are not signatures and are skipped. A layer
 * that cannot be fetched or read is evidence with problems, never an exception: the others
 * still count.
 */
export async function evidenceFromAttachments(
  attachments: AttachmentList | readonly Attachment[],
  signal?: AbortSignal,
): Promise<Evidence[]> {
  const list: readonly Attachment[] = 'attachments' in attachments ? attachments.attachments : attachments;
  const out: Evidence[] = [];
  for (const att of list) {
    if (att.kind !== 'signature' && att.kind !== 'attestation') continue;
    for (const layer of att.layers) {
      const source = sourceOf(att, layer);
      const scheme = att.scheme;
      let bytes: Uint8Array;
      try {
        bytes = await layer.fetch(signal);
      } catch (err) {
        out.push(
          unreadable(att.kind, scheme, source, `fetching ${layer.descriptor.digest}: ${(err as Error).message}`),
        );
        continue;
      }
      if (att.bundle || isSigstoreBundleMediaType(layer.descriptor.mediaType)) {
        out.push(evidenceFromBundle(bytes, source, scheme));
      } else {
        out.push(
          evidenceFromTagLayer(
            {
              mediaType: layer.descriptor.mediaType,
              annotations: layer.annotations,
              payload: bytes,
              digest: layer.descriptor.digest,
            },
            source,
            scheme,
          ),
        );
      }
    }
  }
  return out;
}

function sourceOf(att: Attachment, layer: AttachedLayer): EvidenceSource {
  const description =
    att.scheme === 'tag'
      ? `${att.repository}:${att.tag ?? '?'} layer ${layer.descriptor.digest}`
      : `referrer ${att.repository}@${att.manifest.digest}`;
  return {
    description,
    repository: att.repository,
    ...(att.tag !== undefined ? { tag: att.tag } : {}),
    manifest: att.manifest.digest,
    layer: layer.descriptor.digest,
  };
}

function unreadable(kind: EvidenceKind, scheme: Evidence['scheme'], source: EvidenceSource, problem: string): Evidence {
  return { scheme, kind, source, converted: false, problems: [problem] };
}
