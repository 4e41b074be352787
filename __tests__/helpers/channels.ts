import diagnosticsChannel from 'node:diagnostics_channel';
import { DiagnosticsChannels, type DiagnosticsChannelName } from '../../lib/diagnostics.js';

/** One message as a subscriber saw it, with `performance.now()` when it was published. */
export interface Recorded<T = Record<string, unknown>> {
  channel: DiagnosticsChannelName;
  at: number;
  message: T;
}

/**
 * Records every message of the library's diagnostics channels about `upload`
 * (others running in the same process are ignored) until `stop()`.
 */
export function recordChannels(isOurs: (upload: unknown) => boolean = () => true): {
  messages: Recorded[];
  of<T>(channel: DiagnosticsChannelName): Array<Recorded<T>>;
  stop(): void;
} {
  const messages: Recorded[] = [];
  const listeners = Object.values(DiagnosticsChannels).map((channel) => {
    const listener = (message: unknown): void => {
      const fields = message as Record<string, unknown>;
      if (isOurs(fields.upload)) messages.push({ channel, at: performance.now(), message: fields });
    };
    diagnosticsChannel.subscribe(channel, listener);
    return [channel, listener] as const;
  });
  return {
    messages,
    of: <T>(channel: DiagnosticsChannelName) => messages.filter((each) => each.channel === channel) as unknown as Array<Recorded<T>>,
    stop: () => {
      for (const [channel, listener] of listeners) diagnosticsChannel.unsubscribe(channel, listener);
    },
  };
}
