import test from 'ava';
import { createFrameHeader, frameHeaderSize, readFrameHeader, writeFrameHeader } from '../../src/shared/engine/frame-codec.ts';
import { rawFrame } from '../helpers/frames.ts';

const boundaries: Array<[number, number]> = [
  [0, 2], [1, 2], [125, 2], [126, 4], [127, 4], [65535, 4], [65536, 10], [2 ** 32 + 5, 10], [2 ** 53 - 1, 10],
];

for (const [length, size] of boundaries) {
  test(`header for a ${length}-byte payload is ${size} bytes and matches the RFC layout`, (t) => {
    t.is(frameHeaderSize(length, false), size);
    t.is(frameHeaderSize(length, true), size + 4);
    const ours = new Uint8Array(size);
    t.is(writeFrameHeader(ours, 0, true, 0, 2, length, false), size);
    if (length < 2 ** 32) {
      // The independent builder agrees byte for byte on the header.
      t.deepEqual(Buffer.from(ours), rawFrame({ opcode: 2, declaredLength: BigInt(length) }).subarray(0, size));
    }
    const header = createFrameHeader();
    t.true(readFrameHeader(ours, 0, size, header));
    t.is(header.payloadLength, length);
    t.is(header.headerSize, size);
    t.false(header.lengthOverflow);
    // One byte short of the header is incomplete, never a wrong parse.
    t.false(readFrameHeader(ours, 0, size - 1, header));
  });
}

test('RFC 6455 5.7: header of a single-frame unmasked text message', (t) => {
  const header = createFrameHeader();
  const bytes = Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
  t.true(readFrameHeader(bytes, 0, bytes.length, header));
  t.like(header, { fin: true, rsv: 0, opcode: 1, masked: false, payloadLength: 5, headerSize: 2, maskOffset: -1 });
});

test('RFC 6455 5.7: header of a masked text message locates the key', (t) => {
  const header = createFrameHeader();
  const bytes = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
  t.true(readFrameHeader(bytes, 0, bytes.length, header));
  t.like(header, { masked: true, payloadLength: 5, headerSize: 6, maskOffset: 2 });
});

test('RFC 6455 5.7: 256-byte binary uses a 16-bit length, 64 KiB a 64-bit length', (t) => {
  const header = createFrameHeader();
  t.true(readFrameHeader(Uint8Array.of(0x82, 0x7e, 0x01, 0x00), 0, 4, header));
  t.is(header.payloadLength, 256);
  t.true(readFrameHeader(Uint8Array.of(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0), 0, 10, header));
  t.is(header.payloadLength, 65536);
});

test('a 64-bit length with its top bit set is flagged', (t) => {
  const header = createFrameHeader();
  const bytes = Uint8Array.of(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1);
  t.true(readFrameHeader(bytes, 0, bytes.length, header));
  t.true(header.lengthOverflow);
});

test('RSV bits and opcode are read as sent', (t) => {
  const header = createFrameHeader();
  t.true(readFrameHeader(Uint8Array.of(0x7a, 0x00), 0, 2, header));
  t.like(header, { fin: false, rsv: 0x70, opcode: 0xa });
});

test('a header can be read at an offset inside a larger buffer', (t) => {
  const header = createFrameHeader();
  const bytes = Uint8Array.of(9, 9, 9, 0x89, 0x80, 1, 2, 3, 4);
  t.true(readFrameHeader(bytes, 3, bytes.length, header));
  t.like(header, { opcode: 9, masked: true, maskOffset: 5, headerSize: 6 });
});
