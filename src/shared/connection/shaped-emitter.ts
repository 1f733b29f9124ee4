/**
 * An EventEmitter whose table of listeners keeps one shape, for the socket a server holds per
 * connection.
 *
 * Node makes each emitter's table an object without a prototype, which V8 keeps as a hash table:
 * about 250 bytes per emitter, and a lookup by hashing on every `emit`. A table that is already
 * there when EventEmitter's constructor runs is kept (Node's own streams make theirs so); a
 * listener removed then leaves its event's name in place, so the table never turns into a hash
 * table later either.
 */
import { EventEmitter } from 'node:events';

/**
 * The table: the events a socket is most often listened to for, named up front so that every
 * table has the same layout. Its prototype has no properties, so no event name finds an inherited
 * one (as with Node's own tables).
 */
function ListenerTable(this: Record<string, unknown>): void {
  this.newListener = undefined;
  this.removeListener = undefined;
  this.textMessageReceived = undefined;
  this.binaryMessageReceived = undefined;
  this.disconnected = undefined;
  this.errorOccurred = undefined;
  this.stateChanged = undefined;
  this.connected = undefined;
}
ListenerTable.prototype = Object.create(null) as object;

interface EmitterFields {
  _events: object;
  _eventsCount: number;
}

function ShapedEmitterBase(this: EmitterFields): void {
  this._events = new (ListenerTable as unknown as new () => object)();
  this._eventsCount = 0;
  EventEmitter.call(this as unknown as EventEmitter);
}
Object.setPrototypeOf(ShapedEmitterBase.prototype, EventEmitter.prototype);
Object.setPrototypeOf(ShapedEmitterBase, EventEmitter);

/** EventEmitter, as a class to extend, with the table above. */
export const ShapedEmitter = ShapedEmitterBase as unknown as typeof EventEmitter;
