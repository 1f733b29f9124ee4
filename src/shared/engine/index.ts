// src/shared/engine, exported as `wsthreads/engine`: the sans-I/O protocol engine on its own, for
// those who bring their own I/O. Bytes in, typed events out; messages in, bytes out; no sockets,
// timers or threads (test/layout holds that). One file per format, each with its reader and writer.
/// <reference types="node" preserve="true" />
export { ProtocolEngine } from './protocol-engine.ts';
export { EngineState, type EngineHandler, type EngineOptions } from './engine-types.ts';
export { FrameWriter } from './frame-writer.ts';
export { createFrameHeader, frameHeaderSize, readFrameHeader, writeFrameHeader, type FrameHeader } from './frame-codec.ts';
export { applyMask, maskInto } from './mask.ts';
export { DefaultMaskGenerator, writeMaskKey, type MaskGenerator, type RandomFill } from './mask-generator.ts';
export { Utf8Validator, isValidUtf8 } from './utf8-validator.ts';
export { ServerHandshakeParser, type HandshakeRequest, type HttpRequestHead, type PlainHttpResult, type ServerHandshakeResult, type ServerRequestResult, type ServerHandshakeParserOptions } from './handshake-request.ts';
export { acceptResponseText, buildAcceptResponse, buildErrorResponse, type AcceptResponseOptions } from './handshake-response.ts';
export { ClientHandshakeParser, buildClientRequest, type ClientHandshakeResult, type ClientRequestOptions, type HandshakeResponse, type ClientHandshakeParserOptions } from './client-handshake.ts';
export { acceptKey, generateHandshakeKey, isValidHandshakeKey } from './accept-key.ts';
export { parseExtensionHeader, formatExtensionHeader, type ExtensionHeaderParse } from './extension-header.ts';
export { encodeClosePayload, parseClosePayload, utf8Truncated, type ParsedClosePayload } from './close-payload.ts';
export { CloseCode, isValidWireCloseCode } from './close-code.ts';
export { OpCode, isControlOpCode, isReservedOpCode } from './opcode.ts';
export { SocketError, WebSocketError, InvalidArgumentError, type WebSocketErrorData } from './errors.ts';
export { State, SecureMode, Role, Version, PauseMode } from './state.ts';
export { Signal } from './signals.ts';
export { Defaults, MaxFrameSize } from './limits.ts';
export { LivenessVerdict, type LivenessTimeouts, type LivenessTimeoutName } from './liveness.ts';
export type { Extension, ExtensionFactory, ExtensionOffer } from './extension.ts';
export { PerMessageDeflate, DeflateMode, DeflateDefaults, clientPerMessageDeflate, negotiateServerDeflate, resolveDeflateSettings, type DeflateAgreement, type DeflateOption, type DeflateSettings, type DeflateOffer, type ClientDeflateOptions } from './permessage-deflate.ts';
