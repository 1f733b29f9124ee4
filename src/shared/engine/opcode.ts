/** Frame opcodes of RFC 6455 section 5.2. */
export const OpCode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type OpCode = (typeof OpCode)[keyof typeof OpCode];

export function isControlOpCode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

export function isReservedOpCode(opcode: number): boolean {
  return (opcode > 0x2 && opcode < 0x8) || opcode > 0xa;
}
