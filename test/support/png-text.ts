/**
 * PNG tEXt chunks (keyword, NUL, Latin-1 text; PNG spec §11.3.4.3): the tests stamp the images they
 * commit with where each came from and what was checked in it, and the docs test reads them back.
 */
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// CRC-32 as PNG defines it (zlib's crc32 needs Node 20.15; the engines field allows any Node 20).
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Chunk {
  type: string;
  data: Buffer;
}

function chunks(png: Buffer): Chunk[] {
  if (png.length < SIGNATURE.length || !png.subarray(0, SIGNATURE.length).equals(SIGNATURE))
    throw new Error('not a PNG file');
  const out: Chunk[] = [];
  for (let at = SIGNATURE.length; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    out.push({ type, data: png.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
    if (type === 'IEND') break;
  }
  return out;
}

function encode(c: Chunk): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(c.data.length, 0);
  head.write(c.type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), c.data])), 0);
  return Buffer.concat([head, c.data, crc]);
}

/** The tEXt entries of `png`, keyword → text. */
export function readPngText(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of chunks(png)) {
    if (c.type !== 'tEXt') continue;
    const nul = c.data.indexOf(0);
    if (nul > 0) out[c.data.toString('latin1', 0, nul)] = c.data.toString('latin1', nul + 1);
  }
  return out;
}

/** `png` with `entries` as tEXt chunks (replacing those with the same keywords), just before IEND. */
export function withPngText(png: Buffer, entries: Record<string, string>): Buffer {
  for (const [keyword, text] of Object.entries(entries)) {
    if (!/^[\x20-\x7e]{1,79}$/.test(keyword) || /^ | $| {2}/.test(keyword))
      throw new Error(`invalid PNG keyword: ${JSON.stringify(keyword)}`);
    // Latin-1 printable text and newlines only, so what is read back is what was written.
    if (!/^[\x20-\x7e\n\xa0-\xff]*$/.test(text))
      throw new Error(`PNG text for ${keyword} is not Latin-1: ${JSON.stringify(text)}`);
  }
  const kept = chunks(png).filter(
    (c) => !(c.type === 'tEXt' && c.data.indexOf(0) > 0 && c.data.toString('latin1', 0, c.data.indexOf(0)) in entries),
  );
  const iend = kept.findIndex((c) => c.type === 'IEND');
  if (iend === -1) throw new Error('PNG file has no IEND chunk');
  const added = Object.entries(entries).map(([k, v]) => ({
    type: 'tEXt',
    data: Buffer.concat([Buffer.from(k, 'latin1'), Buffer.from([0]), Buffer.from(v, 'latin1')]),
  }));
  return Buffer.concat([SIGNATURE, ...[...kept.slice(0, iend), ...added, ...kept.slice(iend)].map(encode)]);
}
