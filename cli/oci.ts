// The filter as an OCI image that istio-agent can pull (istio-agent's image fetcher: the Wasm artifact or a Docker-style layer holding plugin.wasm), written as an OCI image
// layout and pushed with the OCI distribution API. Reproducible: the same module gives the same
// digest (no timestamps, fixed tar headers, gzip without a file name or time).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  wasmConfig: 'application/vnd.module.wasm.config.v1+json',
  wasmLayer: 'application/vnd.module.wasm.content.layer.v1+wasm',
  imageConfig: 'application/vnd.oci.image.config.v1+json',
  tarGzipLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export type ImageFormat = 'artifact' | 'compat';

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface Image {
  manifest: Blob;
  blobs: Blob[];
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const blob = (mediaType: string, bytes: Buffer): Blob => ({ mediaType, digest: sha256(bytes), size: bytes.length, bytes });
const descriptor = ({ mediaType, digest, size }: Blob) => ({ mediaType, digest, size });

// A one-file ustar archive with fixed metadata.
export function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, at: number, length: number) => header.write(value, at, length, 'ascii');
  field(name, 0, 100);
  field('0000644\0', 100, 8);
  field('0000000\0', 108, 8);
  field('0000000\0', 116, 8);
  field(`${content.length.toString(8).padStart(11, '0')}\0`, 124, 12);
  field('00000000000\0', 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let checksum = 0;
  for (const byte of header) checksum += byte;
  field(`${checksum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/**
 * The artifact form (default): two layers, the Wasm config and the module, as Istio's fetcher
 * requires of an OCI artifact. The compat form: one tar+gzip layer holding plugin.wasm, which
 * `docker build` with the Dockerfile also makes.
 */
export function buildImage(module: Buffer, format: ImageFormat = 'artifact'): Image {
  let config: Blob;
  let layers: Blob[];
  if (format === 'artifact') {
    config = blob(MEDIA.wasmConfig, Buffer.from('{}'));
    layers = [config, blob(MEDIA.wasmLayer, module)];
  } else {
    const tar = tarOf('plugin.wasm', module);
    const layer = blob(MEDIA.tarGzipLayer, gzipSync(tar, { level: 9 }));
    config = blob(
      MEDIA.imageConfig,
      Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } })),
    );
    layers = [layer];
  }
  const manifest = blob(
    MEDIA.manifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: descriptor(config),
        layers: layers.map(descriptor),
      }),
    ),
  );
  const unique = new Map([config, ...layers].map((b) => [b.digest, b]));
  return { manifest, blobs: [...unique.values()] };
}

/** Writes the image as an OCI image layout in `dir`. */
export function writeLayout(image: Image, dir: string, tag: string): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const b of [...image.blobs, image.manifest]) writeFileSync(join(dir, 'blobs/sha256', b.digest.slice(7)), b.bytes);
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [{ ...descriptor(image.manifest), annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}

/** Reads back an OCI image layout written by writeLayout. */
export function readLayout(dir: string): Image {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const read = (d: { mediaType: string; digest: string }) => blob(d.mediaType, readFileSync(join(dir, 'blobs/sha256', d.digest.slice(7))));
  const manifest = read(index.manifests[0]);
  const body = JSON.parse(manifest.bytes.toString('utf8'));
  const unique = new Map([body.config, ...body.layers].map((d: { mediaType: string; digest: string }) => [d.digest, read(d)]));
  return { manifest, blobs: [...unique.values()] };
}
