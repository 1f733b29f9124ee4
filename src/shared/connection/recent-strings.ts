/**
 * Strings most connections of a server repeat, shared between them. Each arrives as a copy of
 * its own (from getpeername, from a structured clone between threads, from a join), and a copy
 * kept by every connection is 32–60 bytes of each one's footprint: the server's own address,
 * the URL clients ask for, the address of the proxy or NAT they come through. Each place keeps
 * the last value it saw and hands that back for an equal one, so the copy dies young.
 */

/** The last string seen in one place of every connection. */
export class RecentString {
  #last = '';

  /** `text`, or the equal string seen last (held already). */
  shared(text: string): string {
    if (text === this.#last) return this.#last;
    this.#last = text;
    return text;
  }
}

/** This thread's (each thread has its own module instance). */
export const RecentStrings = {
  peerAddress: new RecentString(),
  localAddress: new RecentString(),
  requestUrl: new RecentString(),
} as const;

/** Replaces `info`'s repeated strings, copies that came from another thread, with the ones held already. */
export function shareRecentStrings(info: { peerAddress: string; localAddress: string; requestUrl: string }): void {
  info.peerAddress = RecentStrings.peerAddress.shared(info.peerAddress);
  info.localAddress = RecentStrings.localAddress.shared(info.localAddress);
  info.requestUrl = RecentStrings.requestUrl.shared(info.requestUrl);
}
