/**
 * Connection ids, unique among a server's live connections. The owner numbers the sockets it
 * accepts 1, 2, 3…; a pool thread numbers the ones it accepts itself below zero, as
 * -(n × ThreadSlots + slot), with the slot the pool gave its link: unique among the live
 * threads, and small, so that ids stay small integers for the first two million connections of
 * each thread. V8 keeps a small integer in place; a larger number is a 16-byte object of its own
 * in each field and map key that holds it, and a connection's id is held in about six.
 */

/** Slots 1…ThreadSlots - 1: at most that many pool threads at once. */
export const ThreadSlots = 1024;

/** The id of the `n`th connection (from 1) accepted by the thread in `slot`. */
export function threadConnectionId(n: number, slot: number): number {
  return -(n * ThreadSlots + slot);
}
